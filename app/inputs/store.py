"""Content-addressed store of uploaded tensors, shared by every worker (and process) through the file system.

An input's id is the SHA-256 of its decoded tensor (dtype, shape and bytes), so the same picture
uploaded twice, to any worker, gets one id. Layout under ``root``:

    <id>.npy    a stored input, always whole; its shape is read from the .npy header (there is no
                sidecar: nothing can be orphaned, and what the quota counts is what is on disk)
    tmp/        writes in progress, named ``<reserved bytes>.<host>-<pid>.<random>.part``; nothing outside
                tmp/ is ever half-written, and eviction never looks inside it
    .state      the lock (fcntl.flock) and, as its content, the usage count

Rules:
* A put reserves its bytes and creates its temporary file under the exclusive lock, writes and fsyncs
  it without the lock, then renames it into place under the lock. A process killed at any point leaves
  at most a file in tmp/, which the next scan removes (its pid is gone on this host, or it is an hour old)
  along with its reservation.
* Usage is the on-disk size (``st_blocks``) of the stored inputs plus the reservations of writes in
  progress. It is updated incrementally under the lock; a full scan recounts it at most every
  ``rescan_s`` seconds, or when room must be made.
* Eviction removes least recently used inputs, down to ``EVICT_SLACK`` below the quota (so a full store
  scans once per 5 % of its quota, not once per upload), and never one used in the last ``grace_s``:
  every put, info and get marks the input used under a shared lock, so a use and an eviction never
  interleave, and an id a client was just given stays fetchable. When everything is that recent the
  upload is refused with 507 (``StoreFull``) instead of exceeding the quota.
* A full disk (ENOSPC, EDQUOT) is a 507 too, with nothing left behind.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import re
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from app import metrics
from app.errors import NotFound, StoreFull, check_limit

ID_PATTERN = re.compile(r"[0-9a-f]{64}")  # always used with fullmatch: "$" would accept a trailing "\n"
STORED = re.compile(r"([0-9a-f]{64})\.npy")
TEMP = re.compile(r"(\d+)\.([0-9a-f]{8})-(\d+)\.[a-z0-9_]+\.part")  # <reserved bytes>.<host>-<pid>.<random>.part
EVICT_SLACK = 0.05
TEMP_STALE_S = 3600  # a temporary file this old is abandoned even if its pid is alive (reused pid)
STATE_BYTES = 256  # the usage record, space-padded and rewritten in place (never grows, never truncated)
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True)
class StoredInput:
    id: str
    shape: tuple[int, int, int]
    source: str  # "upload": the uploader's filename is never stored, so never shown to others


@dataclass
class Usage:
    bytes: int = 0  # on disk: stored inputs + reservations of writes in progress
    scanned: float = 0.0  # time.time() of the last full count
    full_until: float = 0.0  # nothing can be evicted before then (everything stored is within its grace)


def tensor_id(arr: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{arr.dtype.str}|{arr.shape}|".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def disk_bytes(st: os.stat_result) -> int:
    """Bytes a file occupies on disk: a 192-byte .npy takes a whole 4 KiB block."""
    return st.st_blocks * 512


def counted_bytes(root: Path) -> int | None:
    """The usage a store at `root` has counted, read as it is (no lock, no recount): for tests and
    benchmarks that compare it with the disk. None when there is no readable record."""
    try:
        return Usage(**json.loads((Path(root) / ".state").read_bytes())).bytes
    except (OSError, ValueError, TypeError):
        return None


def _host_tag() -> str:
    """8 hex digits naming this host (container): a pid is only meaningful there."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _writer_alive(host: str, pid: int) -> bool:
    """Whether the writer of a temporary file may still be running. One on another host (another container
    sharing the directory) is presumed alive: its pid cannot be checked from here; age ends it."""
    if host != _host_tag():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _full_disk_is_507():
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL_DISK:
            raise StoreFull("the upload store is full: the disk it lives on has no space left "
                            f"({errno.errorcode[exc.errno]}); try again later (the operator can free "
                            "space or lower the store's quota)", limit="CONVLENS_STORE_QUOTA_BYTES") from None
        raise


class InputStore:
    def __init__(self, root: Path, quota_bytes: int, grace_s: float = 120, rescan_s: float = 300):
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.state = self.root / ".state"
        self.quota_bytes = quota_bytes
        self.grace_s = grace_s
        self.rescan_s = rescan_s
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.block = max(512, os.statvfs(self.root).f_bsize)
        self.rescan()  # a worker (re)starting after a crash drops what dead writers left in tmp/

    def unwritable(self) -> str | None:
        """Why this store cannot take uploads right now (its directory is gone or read-only, e.g. a shared
        volume that was unmounted), or None: what a replica's readiness probe checks."""
        for d in (self.root, self.tmp):
            if not os.access(d, os.W_OK | os.X_OK):
                return f"the upload store's directory {d.name or d} is missing or not writable"
        return None

    # -- paths, lock and usage record ------------------------------------------------------------
    def _path(self, input_id: str) -> Path:
        if not ID_PATTERN.fullmatch(input_id):  # no user string ever becomes a path
            raise NotFound(f"input id '{input_id[:80]}' is not a valid id (64 hex digits); upload the input again")
        return self.root / f"{input_id}.npy"

    @contextlib.contextmanager
    def _locked(self, exclusive: bool):
        """The store-wide lock, across threads and processes (each holder opens its own descriptor);
        the kernel releases it when its holder dies, so a killed worker never leaves it stuck."""
        fd = os.open(self.state, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield fd
        finally:
            os.close(fd)

    def _read_usage(self, fd: int) -> Usage:
        """The usage record; recounted when missing, torn by a crash, or older than rescan_s."""
        try:
            usage = Usage(**json.loads(os.pread(fd, STATE_BYTES, 0)))
        except (ValueError, TypeError):
            usage = None
        if usage is None or time.time() - usage.scanned > self.rescan_s:
            usage = Usage(self._scan()[0], time.time())
            self._write_usage(fd, usage)
        return usage

    def _write_usage(self, fd: int, usage: Usage) -> None:
        os.pwrite(fd, json.dumps(asdict(usage)).encode().ljust(STATE_BYTES), 0)

    def _scan(self) -> tuple[int, list[tuple[float, int, Path]]]:
        """Under the exclusive lock: (usage in bytes, [(last use, bytes, path)] of stored inputs). Removes
        abandoned temporary files (their writer is dead) and anything else that is not an input."""
        total, entries = 0, []
        with os.scandir(self.root) as it:
            for e in it:
                if STORED.fullmatch(e.name):
                    with contextlib.suppress(FileNotFoundError):
                        st = e.stat()
                        entries.append((st.st_mtime, disk_bytes(st), Path(e.path)))
                        total += disk_bytes(st)
                elif e.name.endswith(".json") or e.name.startswith(".tmp-"):  # an older store's sidecars and temps
                    Path(e.path).unlink(missing_ok=True)
        now = time.time()
        with os.scandir(self.tmp) as it:
            for e in it:
                m = TEMP.fullmatch(e.name)
                with contextlib.suppress(FileNotFoundError):
                    if m and _writer_alive(m[2], int(m[3])) and now - e.stat().st_mtime < TEMP_STALE_S:
                        total += int(m[1])  # a write in progress: its reservation
                    else:
                        os.unlink(e.path)
        return total, entries

    def usage_bytes(self) -> int:
        with self._locked(True) as fd:
            return self._read_usage(fd).bytes

    def rescan(self) -> int:
        """Recount now (tests and operators); returns the usage in bytes."""
        with self._locked(True) as fd:
            usage = Usage(self._scan()[0], time.time())
            self._write_usage(fd, usage)
            return usage.bytes

    # -- put ---------------------------------------------------------------------------------------
    def put(self, arr: np.ndarray) -> StoredInput:
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        input_id = tensor_id(arr)
        meta = StoredInput(input_id, tuple(int(v) for v in arr.shape), "upload")
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(head, np.lib.format.header_data_from_array_1_0(arr))
        need = -(-(head.tell() + arr.nbytes) // self.block) * self.block  # whole blocks, as on disk
        check_limit("the upload's size in the store in bytes", need, self.quota_bytes, "store_quota_bytes")
        with _full_disk_is_507():
            tmp = self._reserve(input_id, need)
            if tmp is not None:
                try:
                    actual = self._write(tmp, head.getvalue(), arr)
                    self._commit(tmp, need, actual, self._path(input_id))
                except BaseException:
                    self._release(tmp, need)
                    raise
        return meta

    def _reserve(self, input_id: str, need: int) -> Path | None:
        """Under the lock: mark an already stored input used (None), or make room, count `need` bytes
        and create the temporary file that carries the reservation in its name."""
        final = self._path(input_id)
        with self._locked(True) as fd:
            try:
                os.utime(final)
                return None  # stored already (by anyone); now marked used, so safe for grace_s
            except FileNotFoundError:
                pass
            usage = self._make_room(fd, self._read_usage(fd), need)
            handle, tmp = tempfile.mkstemp(dir=self.tmp, prefix=f"{need}.{_host_tag()}-{os.getpid()}.",
                                         suffix=".part")
            os.close(handle)
            usage.bytes += need
            self._write_usage(fd, usage)
            return Path(tmp)

    def _make_room(self, fd: int, usage: Usage, need: int) -> Usage:
        """Evict least recently used inputs (outside their grace) until `need` more bytes fit under
        EVICT_SLACK below the quota; StoreFull when they cannot fit even under the quota itself."""
        now = time.time()
        if usage.bytes + need <= self.quota_bytes:
            return usage
        if now >= usage.full_until:  # otherwise the last scan found nothing evictable yet
            total, entries = self._scan()
            usage = Usage(total, now)
            target = self.quota_bytes * (1 - EVICT_SLACK)
            for mtime, size, path in sorted(entries, key=lambda e: e[0]):
                if usage.bytes + need <= target:
                    break
                if mtime > now - self.grace_s:
                    usage.full_until = mtime + self.grace_s  # the oldest input still within its grace
                    break
                path.unlink(missing_ok=True)
                usage.bytes -= size
                metrics.STORE_EVICTIONS.inc()
            self._write_usage(fd, usage)
        if usage.bytes + need > self.quota_bytes:
            wait = max(1, round(usage.full_until - now))
            raise StoreFull(f"the upload store is full: its quota of {self.quota_bytes:,} bytes "
                            f"is taken by inputs used in the last {self.grace_s:g} s, "
                            f"which are kept for their users; try again in {wait} s", retry_after_s=wait,
                            limit="CONVLENS_STORE_QUOTA_BYTES")
        return usage

    @staticmethod
    def _write(tmp: Path, head: bytes, arr: np.ndarray) -> int:
        """The whole .npy into the temporary file, fsynced; returns its size on disk."""
        fd = os.open(tmp, os.O_WRONLY)
        try:
            for chunk in (memoryview(head), memoryview(arr.reshape(-1)).cast("B")):
                while chunk:
                    chunk = chunk[os.write(fd, chunk):]
            os.fsync(fd)
            return disk_bytes(os.fstat(fd))
        finally:
            os.close(fd)

    def _commit(self, tmp: Path, need: int, actual: int, final: Path) -> None:
        """Under the lock: rename into place (atomic: readers see no file or the whole file) and turn
        the reservation into the file's real size. A twin upload that got there first wins."""
        with self._locked(True) as fd:
            usage = self._read_usage(fd)
            if final.exists():
                os.utime(final)
                tmp.unlink()
                usage.bytes -= need
            else:
                os.replace(tmp, final)
                usage.bytes += actual - need
                dir_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(dir_fd)  # the rename itself survives a power cut
                finally:
                    os.close(dir_fd)
            self._write_usage(fd, usage)

    def _release(self, tmp: Path, need: int) -> None:
        """Undo a reservation whose write failed (the temporary file may or may not still exist)."""
        with self._locked(True) as fd:
            usage = self._read_usage(fd)
            try:
                tmp.unlink()
                usage.bytes -= need
                self._write_usage(fd, usage)
            except FileNotFoundError:
                pass  # renamed into place (and counted) before the failure, or already removed by a scan

    # -- reading -------------------------------------------------------------------------------------
    def _missing(self, input_id: str) -> NotFound:
        return NotFound(f"input '{input_id}' is not stored (unknown, or evicted to keep the store under its "
                        "quota); upload it again with POST /api/inputs")

    def _use(self, input_id: str) -> Path:
        """Mark an input used, under the shared lock so that no eviction runs in between; from now on
        it is safe from eviction for grace_s."""
        path = self._path(input_id)
        with self._locked(False):
            try:
                os.utime(path)
            except FileNotFoundError:
                raise self._missing(input_id) from None
        return path

    def info(self, input_id: str) -> StoredInput:
        """Shape from the .npy header alone, without reading the tensor (layer checks run on every control
        change)."""
        path = self._use(input_id)
        try:
            with open(path, "rb") as f:
                np.lib.format.read_magic(f)  # this store writes version 1.0 headers only
                shape, _, _ = np.lib.format.read_array_header_1_0(f)
        except FileNotFoundError:
            raise self._missing(input_id) from None
        return StoredInput(input_id, tuple(shape), "upload")

    def get(self, input_id: str) -> tuple[np.ndarray, StoredInput]:
        path = self._use(input_id)
        try:
            arr = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise self._missing(input_id) from None
        return arr, StoredInput(input_id, tuple(arr.shape), "upload")
