"""Content-addressed store of uploaded ONNX models, shared by every worker through the file system.

A model's id is the SHA-256 of its bytes. Files are written under a temporary name and renamed into
place, so a reader never sees half a file; the store keeps under its quota by evicting the least
recently used models. Ids are checked against a pattern, so no user string ever becomes a path.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.errors import NotFound

ID_PATTERN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredModel:
    id: str
    name: str
    size_bytes: int


class ModelStore:
    def __init__(self, root: Path, quota_bytes: int):
        self.root = Path(root)
        self.quota_bytes = quota_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, model_id: str, suffix: str) -> Path:
        if not ID_PATTERN.fullmatch(model_id):
            raise NotFound(f"model id '{model_id[:80]}' is not a valid id (64 hex digits, or a built-in name)")
        return self.root / f"{model_id}{suffix}"

    def _atomic_write(self, target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, data: bytes, name: str) -> StoredModel:
        model_id = hashlib.sha256(data).hexdigest()
        path = self._path(model_id, ".onnx")
        if not path.exists():
            self._atomic_write(self._path(model_id, ".json"), json.dumps({"name": name}).encode())
            self._atomic_write(path, data)  # last: its presence means the model is whole
        else:
            os.utime(path)
        self.evict(keep=model_id)
        return StoredModel(model_id, name, len(data))

    def _missing(self, model_id: str) -> NotFound:
        return NotFound(f"model '{model_id}' is not stored (unknown, or evicted to keep the store under its "
                        "quota); upload it again with POST /api/models/upload")

    def get(self, model_id: str) -> tuple[bytes, StoredModel]:
        path = self._path(model_id, ".onnx")
        try:
            data = path.read_bytes()
            os.utime(path)
        except FileNotFoundError:
            raise self._missing(model_id) from None
        return data, StoredModel(model_id, self._name(model_id), len(data))

    def _name(self, model_id: str) -> str:
        try:
            return str(json.loads(self._path(model_id, ".json").read_text()).get("name", "model"))[:120]
        except (FileNotFoundError, ValueError):
            return "model"

    def list(self) -> list[StoredModel]:
        out = []
        for p in sorted(self.root.glob("*.onnx"), key=lambda p: p.stat().st_mtime if p.exists() else 0, reverse=True):
            if ID_PATTERN.fullmatch(p.stem):
                try:
                    out.append(StoredModel(p.stem, self._name(p.stem), p.stat().st_size))
                except FileNotFoundError:
                    continue
        return out

    def evict(self, keep: str | None = None) -> list[str]:
        entries = []
        for p in self.root.glob("*.onnx"):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            entries.append((st.st_mtime, st.st_size, p))
        total, removed = sum(e[1] for e in entries), []
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
