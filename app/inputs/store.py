"""Content-addressed store of uploaded tensors, shared by every worker through the file system.

An input's id is the SHA-256 of its decoded tensor (dtype, shape and bytes), so the same picture
uploaded twice, to any worker, gets one id. Files are written under a temporary name and renamed
atomically, so a reader never sees half a file. The store keeps to a byte quota by evicting the least
recently used inputs; a request that has loaded an input holds it in memory, so eviction cannot
pull it from under the request.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import NotFound

ID_PATTERN = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredInput:
    id: str
    shape: tuple[int, int, int]
    source: str


def tensor_id(arr: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{arr.dtype.str}|{arr.shape}|".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


class InputStore:
    def __init__(self, root: Path, quota_bytes: int):
        self.root = Path(root)
        self.quota_bytes = quota_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, input_id: str, suffix: str) -> Path:
        if not ID_PATTERN.match(input_id):  # no user string ever becomes a path
            raise NotFound(f"input id '{input_id[:80]}' is not a valid id (64 hex digits); upload the input again")
        return self.root / f"{input_id}{suffix}"

    def _atomic_write(self, target: Path, write) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, arr: np.ndarray, source: str) -> StoredInput:
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        input_id = tensor_id(arr)
        meta = StoredInput(input_id, tuple(int(v) for v in arr.shape), source)
        npy = self._path(input_id, ".npy")
        if not npy.exists():
            self._atomic_write(self._path(input_id, ".json"),
                               lambda f: f.write(json.dumps({"shape": meta.shape, "source": source}).encode()))
            self._atomic_write(npy, lambda f: np.save(f, arr, allow_pickle=False))
        else:
            os.utime(npy)
        self.evict(keep=input_id)
        return meta

    def _missing(self, input_id: str) -> NotFound:
        return NotFound(f"input '{input_id}' is not stored (unknown, or evicted to keep the store under its "
                        "quota); upload it again with POST /api/inputs")

    def info(self, input_id: str) -> StoredInput:
        """Shape and source from the small sidecar, without reading the tensor (layer checks run on every
        control change). The .npy is renamed into place last, so its presence means the input is whole."""
        npy = self._path(input_id, ".npy")
        try:
            meta = json.loads(self._path(input_id, ".json").read_text())
            os.utime(npy)  # mark as recently used; raises if the tensor is not (or no longer) there
        except FileNotFoundError:
            raise self._missing(input_id) from None
        return StoredInput(input_id, tuple(meta["shape"]), meta.get("source", "upload"))

    def get(self, input_id: str) -> tuple[np.ndarray, StoredInput]:
        npy = self._path(input_id, ".npy")
        try:
            arr = np.load(npy, allow_pickle=False)
            meta = json.loads(self._path(input_id, ".json").read_text())
            os.utime(npy)  # mark as recently used
        except FileNotFoundError:
            raise self._missing(input_id) from None
        return arr, StoredInput(input_id, tuple(arr.shape), meta.get("source", "upload"))

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove least recently used inputs until the store is within its quota."""
        entries = []
        for p in self.root.glob("*.npy"):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue  # another worker evicted it meanwhile
            entries.append((st.st_mtime, st.st_size, p))
        total = sum(size for _, size, _ in entries)
        removed = []
        for _, size, p in sorted(entries, key=lambda e: e[0]):
            if total <= self.quota_bytes:
                break
            if p.stem == keep:
                continue
            p.unlink(missing_ok=True)
            p.with_suffix(".json").unlink(missing_ok=True)
            total -= size
            removed.append(p.stem)
        return removed
