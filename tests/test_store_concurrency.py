"""The upload store under concurrency, crashes and a full disk: atomic puts, the quota, the grace period,
usage counted as on disk, and nothing half-written or orphaned, ever.

Each test here was seen to fail against a put that writes straight to its final name (see the notes)."""
from __future__ import annotations

import errno
import json
import http.client
import io
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn

from app.errors import NotFound, StoreFull
from app.inputs.store import STORED, InputStore, _host_tag, counted_bytes, disk_bytes, tensor_id
from app.main import create_app
from app.settings import Settings
from tests.conftest import ROOT, _free_port


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def assert_consistent(root: Path) -> int:
    """Only whole inputs and the state file in the store; nothing in tmp/; the usage count equals the
    bytes on disk. Returns the number of stored inputs."""
    names = {p.name for p in root.iterdir()}
    stored = {n for n in names if STORED.fullmatch(n)}
    assert names - stored == {"tmp", ".state"}, f"unexpected files: {names - stored}"
    assert not list((root / "tmp").iterdir()), "a temporary file was left behind"
    on_disk = sum(disk_bytes((root / n).stat()) for n in stored)
    assert counted_bytes(root) == on_disk  # as counted, not recounted (a new InputStore would recount)
    for n in stored:
        arr = np.load(root / n)
        assert tensor_id(arr) == n[:-4]  # whole, and the content its name promises
    return len(stored)


def _writer(root: str, seed: int, rounds: int) -> None:
    store = InputStore(Path(root), 10**9)
    same = np.arange(64 * 64, dtype=np.float32).reshape(1, 64, 64)
    for k in range(rounds):
        store.put(same)
        store.put(np.full((1, 8, 8), seed * 1000 + k, np.float32))


def test_concurrent_writers_of_the_same_upload_never_corrupt_it(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), s, 40)) for s in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    same = np.arange(64 * 64, dtype=np.float32).reshape(1, 64, 64)
    arr, _ = InputStore(tmp_path, 10**9).get(tensor_id(same))
    assert np.array_equal(arr, same)
    assert assert_consistent(tmp_path) == 1 + 4 * 40


def test_quota_holds_under_many_uploads(tmp_path):
    one = np.zeros((1, 128, 128), np.float32)
    entry = -(-(one.nbytes + 128) // 4096) * 4096
    store = InputStore(tmp_path, 10 * entry, grace_s=0)
    for k in range(50):
        store.put(one + k)
    assert 9 <= assert_consistent(tmp_path) <= 10
    assert store.usage_bytes() <= 10 * entry


def test_inputs_used_within_the_grace_period_are_never_evicted(tmp_path):
    """A full store of recent inputs refuses the next upload (507, with when to retry) rather than evict
    an id a client was just given; once they are older than the grace period they make room."""
    one = np.zeros((1, 128, 128), np.float32)
    entry = -(-(one.nbytes + 128) // 4096) * 4096
    store = InputStore(tmp_path, 3 * entry, grace_s=60)
    ids = [store.put(one + k).id for k in range(3)]
    with pytest.raises(StoreFull, match="used in the last 60 s") as err:
        store.put(one + 3)
    assert 1 <= int(err.value.headers["Retry-After"]) <= 60
    assert err.value.limit == "CONVLENS_STORE_QUOTA_BYTES" and "CONVLENS" not in err.value.message
    for i in ids:
        assert np.array_equal(store.get(i)[0], one + ids.index(i))
    old = time.time() - 3600
    os.utime(tmp_path / f"{ids[0]}.npy", (old, old))  # the first one has not been used for an hour
    store.rescan()  # forget "nothing is evictable before …" from the refusal
    store.put(one + 3)
    with pytest.raises(NotFound):
        store.get(ids[0])
    assert assert_consistent(tmp_path) == 3


@pytest.mark.parametrize("where", ["os.fsync", "os.replace"])
def test_a_fault_between_write_and_rename_leaves_nothing_visible(tmp_path, monkeypatch, where):
    store = InputStore(tmp_path, 10**9)
    kept = store.put(np.ones((1, 4, 4), np.float32))
    arr = np.arange(3 * 50 * 50, dtype=np.float32).reshape(3, 50, 50)
    real = getattr(os, where.split(".")[1])
    calls = []

    def fault(*args):
        calls.append(args)
        raise RuntimeError("injected fault")
    monkeypatch.setattr(os, where.split(".")[1], fault)
    with pytest.raises(RuntimeError, match="injected"):
        store.put(arr)
    monkeypatch.setattr(os, where.split(".")[1], real)
    assert calls, "the fault was never reached: put did not write through a temporary file"
    with pytest.raises(NotFound):
        store.get(tensor_id(arr))
    assert assert_consistent(tmp_path) == 1
    assert np.array_equal(store.get(kept.id)[0], np.ones((1, 4, 4)))
    store.put(arr)  # and the store still works
    assert np.array_equal(store.get(tensor_id(arr))[0], arr)


KILLED_PUT = """
import os, sys, time
from pathlib import Path
import numpy as np
from app.inputs.store import InputStore

root, point = Path(sys.argv[1]), sys.argv[2]
real_write, real_fsync, real_replace = os.write, os.fsync, os.replace
fsyncs = []

def pause():
    (root.parent / "paused").write_text(point)
    time.sleep(600)

def write(fd, data):  # half of the tensor's bytes, then stop
    if point == "mid-write" and len(data) > 1000:
        real_write(fd, data[: len(data) // 2])
        pause()
    return real_write(fd, data)

def fsync(fd):  # the first fsync is the file's (written, not renamed); the second the directory's (renamed)
    fsyncs.append(fd)
    real_fsync(fd)
    if (point, len(fsyncs)) in (("before-rename", 1), ("after-rename", 2)):
        pause()

os.write, os.fsync = write, fsync
InputStore(root, 10**9).put(np.arange(256 * 256, dtype=np.float32).reshape(1, 256, 256))
"""


@pytest.mark.parametrize("point", ["mid-write", "before-rename", "after-rename"])
def test_a_process_killed_in_the_middle_of_put_leaves_the_store_consistent(tmp_path, point):
    """SIGKILL at three moments of a put (the data is all in memory: this is not an unfinished upload):
    either the input is whole and counted, or there is no trace of it once a worker starts again."""
    root = tmp_path / "inputs"
    kept = InputStore(root, 10**9).put(np.ones((1, 4, 4), np.float32))
    arr = np.arange(256 * 256, dtype=np.float32).reshape(1, 256, 256)
    child = subprocess.Popen([sys.executable, "-c", KILLED_PUT, str(root), point],
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for _ in range(600):
            if (tmp_path / "paused").exists() or child.poll() is not None:
                break
            time.sleep(0.05)
        assert (tmp_path / "paused").exists(), f"the child never reached {point} (exit {child.poll()})"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    store = InputStore(root, 10**9)  # a worker starting afterwards; it must not wait for the dead one's lock
    if point == "after-rename":
        assert np.array_equal(store.get(tensor_id(arr))[0], arr)
    else:
        with pytest.raises(NotFound, match="not stored"):
            store.get(tensor_id(arr))
        with pytest.raises(NotFound, match="not stored"):
            store.info(tensor_id(arr))
    assert assert_consistent(root) == (2 if point == "after-rename" else 1)
    store.put(arr)
    assert np.array_equal(store.get(tensor_id(arr))[0], arr) and store.info(kept.id).shape == (1, 4, 4)
    assert assert_consistent(root) == 2


def test_a_dead_writers_temporary_file_is_dropped_but_another_hosts_is_kept_until_stale(tmp_path):
    """A pid can only be checked on its own host: with the store on a volume shared by containers, another
    container's write in progress must not be taken for a dead one (and deleted under it)."""
    store = InputStore(tmp_path, 10**9)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a pid that has just exited
    here, elsewhere = _host_tag(), "0" * 8 if _host_tag() != "0" * 8 else "1" * 8
    mine, theirs = tmp_path / "tmp" / f"8192.{here}-{dead}.abc.part", tmp_path / "tmp" / f"4096.{elsewhere}-{dead}.abc.part"
    mine.write_bytes(b"x"), theirs.write_bytes(b"x")
    assert store.rescan() == 4096  # theirs is counted at its reservation; mine is gone
    assert not mine.exists() and theirs.exists()
    old = time.time() - 2 * 3600
    os.utime(theirs, (old, old))
    assert store.rescan() == 0 and not theirs.exists()


def test_tiny_uploads_are_counted_at_their_size_on_disk(tmp_path, monkeypatch):
    """The issue's 6,000 tiny uploads took 52 MB on disk and were counted as 2 MB against the quota.
    (fsync is skipped here: durability is not what this test is about, and it took 40 of its 50 s.)"""
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    store = InputStore(tmp_path, 10**9)
    for k in range(6000):
        store.put(np.full((1, 4, 4), k, np.float32))
    assert store.usage_bytes() >= 6000 * 4096
    assert assert_consistent(tmp_path) == 6000


# -- through HTTP --------------------------------------------------------------------------------------

class InProcessServer:
    """uvicorn in a thread of this process, so that a test's monkeypatch reaches the server's code."""

    def __init__(self, settings: Settings):
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


def _multipart(data: bytes) -> tuple[bytes, str]:
    boundary = "convlensboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.npy\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("call, err", [("write", errno.ENOSPC), ("replace", errno.ENOSPC), ("write", errno.EDQUOT)])
def test_a_full_disk_is_507_and_the_connection_survives(tmp_path, monkeypatch, call, err):
    root = tmp_path / "data" / "inputs"
    real = getattr(os, call)

    def full(*args):
        target = args[0] if call == "replace" else os.readlink(f"/proc/self/fd/{args[0]}")
        if str(target).startswith(str(root)):
            raise OSError(err, os.strerror(err))
        return real(*args)
    with InProcessServer(Settings(data_dir=tmp_path / "data")) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        body, ctype = _multipart(npy_bytes(np.ones((2, 30, 30), np.float32)))
        monkeypatch.setattr(os, call, full)
        conn.request("POST", "/api/inputs", body=body, headers={"Content-Type": ctype})
        r = conn.getresponse()
        payload = r.read().decode()
        assert r.status == 507 and "the upload store is full" in payload and errno.errorcode[err] in payload
        assert json.loads(payload)["error"]["limit"] == "CONVLENS_STORE_QUOTA_BYTES" and "CONVLENS" not in \
            json.loads(payload)["error"]["message"]
        sock = conn.sock
        monkeypatch.setattr(os, call, real)
        conn.request("GET", "/healthz")  # the same keep-alive connection
        r = conn.getresponse()
        assert r.status == 200 and r.read() and conn.sock is sock
        conn.request("POST", "/api/inputs", body=body, headers={"Content-Type": ctype})
        r = conn.getresponse()
        assert r.status == 201, r.read()
        r.read()
        conn.close()
    assert assert_consistent(root) == 1


def test_32_concurrent_distinct_uploads_under_a_small_quota(tmp_path):
    """The issue's race: 32 distinct 5 MB uploads at once against a 64 MB quota on 2 workers gave 8 × 500,
    8 orphan sidecars, and 21 of 24 returned ids already evicted. Now: each is stored (201, and fetchable
    right after) or refused with 507 and a reason; the store ends consistent and within its quota."""
    quota = 64 * 2**20
    env = {**os.environ, "CONVLENS_DATA_DIR": str(tmp_path / "data"), "CONVLENS_STORE_QUOTA_BYTES": str(quota)}
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", "--port", str(port), "--workers", "2"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        uploads = [npy_bytes(np.full((1, 1024, 1280), k, np.float32)) for k in range(32)]  # 5 MB each

        def upload(data: bytes) -> tuple[int, str, int | None]:
            with httpx.Client(base_url=url, timeout=120) as c:
                r = c.post("/api/inputs", files={"file": ("t.npy", data)})
                if r.status_code != 201:
                    return r.status_code, r.text, None
                return 201, r.json()["id"], c.get(f"/api/inputs/{r.json()['id']}").status_code
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(upload, uploads))
        statuses = sorted(s for s, _, _ in results)
        print(f"32 concurrent 5 MB uploads, 64 MB quota, 2 workers: {statuses.count(201)} × 201, "
              f"{statuses.count(507)} × 507")
        assert set(statuses) <= {201, 507}, statuses
        assert statuses.count(201) >= 10
        assert all(fetched == 200 for s, _, fetched in results if s == 201)
        assert all("the upload store is full" in text for s, text, _ in results if s == 507)
    finally:
        proc.terminate()
        proc.wait(10)
    root = tmp_path / "data" / "inputs"
    assert assert_consistent(root) == statuses.count(201)
    assert sum(disk_bytes(p.stat()) for p in root.glob("*.npy")) <= quota


SERVER_PAUSING_IN_PUT = """
import os, sys, time
from pathlib import Path
marker, root = Path(sys.argv[1]), sys.argv[2]
real_fsync = os.fsync

def fsync(fd):  # the store's fsync of a large written temporary file: the upload was received and decoded
    if os.readlink(f"/proc/self/fd/{fd}").startswith(root + "/tmp/") and os.fstat(fd).st_size > 10_000:
        marker.write_text("in put")
        time.sleep(600)
    real_fsync(fd)

os.fsync = fsync
from app.cli import main
main(["serve", "--port", sys.argv[3]])
"""


def _start_server(argv: list[str], env: dict) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, *argv, str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def test_a_server_killed_in_the_middle_of_put_serves_nothing_half_written(tmp_path):
    """The whole body received and decoded, the tensor written but not yet renamed: SIGKILL the server.
    Restarted, it does not know the input (404), takes the same upload again, and nothing is left over."""
    data_dir, marker = tmp_path / "data", tmp_path / "in-put"
    root = data_dir / "inputs"
    env = {**os.environ, "CONVLENS_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    arr = np.arange(3 * 64 * 64, dtype=np.float32).reshape(3, 64, 64)  # 49 KB: this one pauses
    proc, url = _start_server(["-c", SERVER_PAUSING_IN_PUT, str(marker), str(root)], env)
    answers = []
    try:
        small = httpx.post(url + "/api/inputs", files={"file": ("a.npy", npy_bytes(np.ones((1, 2, 2), np.float32)))})
        assert small.status_code == 201
        def post():
            try:
                answers.append(httpx.post(url + "/api/inputs", files={"file": ("b.npy", npy_bytes(arr))}, timeout=60))
            except httpx.HTTPError as exc:
                answers.append(exc)
        t = threading.Thread(target=post)
        t.start()
        for _ in range(600):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.exists(), "the server never reached put"
        assert list((root / "tmp").iterdir()), "nothing was being written"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    t.join(60)
    assert len(answers) == 1 and isinstance(answers[0], httpx.HTTPError)  # it died with the server
    proc, url = _start_server(["-m", "app", "--port"], env)
    try:
        assert httpx.get(f"{url}/api/inputs/{tensor_id(arr)}").status_code == 404
        up = httpx.post(url + "/api/inputs", files={"file": ("b.npy", npy_bytes(arr))})
        assert up.status_code == 201 and up.json()["id"] == tensor_id(arr)
        assert httpx.get(f"{url}/api/inputs/{tensor_id(arr)}").json()["shape"] == [3, 64, 64]
        assert httpx.get(f"{url}/api/inputs/{small.json()['id']}").status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
    assert assert_consistent(root) == 2
