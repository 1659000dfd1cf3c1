"""The upload store under many files: upload latency as the store fills, and bytes counted vs on disk.

    .venv/bin/python benchmarks/store.py --uploads 6000

Uploads tiny distinct .npy tensors one after another over one keep-alive connection to a live server
(1 worker), and reports the p50 of the first and the last 500 uploads, the number of files, their
on-disk size (``st_blocks``) and, when the store keeps one, its own usage count.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.server import running_server


def _npy(k: int) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.full((1, 4, 4), k, np.float32))
    return buf.getvalue()


def on_disk(root: Path) -> tuple[int, int]:
    """(files, bytes allocated on disk) of everything under the store's root."""
    files = total = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            st = os.stat(os.path.join(dirpath, n))
            files += 1
            total += st.st_blocks * 512
    return files, total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uploads", type=int, default=6000)
    ap.add_argument("--window", type=int, default=500)
    args = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="convlens-store-bench-"))
    with running_server(workers=1, env={"CONVLENS_DATA_DIR": str(data_dir)}) as url:
        times = []
        with httpx.Client(base_url=url, timeout=30) as c:
            for k in range(args.uploads):
                t0 = time.perf_counter()
                r = c.post("/api/inputs", files={"file": ("t.npy", _npy(k))})
                times.append((time.perf_counter() - t0) * 1e3)
                assert r.status_code == 201, r.text
        root = data_dir / "inputs"
        files, disk = on_disk(root)
        try:
            from app.inputs.store import counted_bytes  # the store's own incremental count (issue 14)
            usage = counted_bytes(root)
        except ImportError:
            usage = None  # a store from before it kept one
        w = args.window
        print(json.dumps({
            "uploads": args.uploads, "p50_first_ms": round(statistics.median(times[:w]), 2),
            "p50_last_ms": round(statistics.median(times[-w:]), 2), "files": files,
            "bytes_on_disk": disk, "bytes_apparent_npy": sum(p.stat().st_size for p in root.glob("*.npy")),
            "store_usage_bytes": usage}, indent=1))


if __name__ == "__main__":
    main()
