"""Start `python -m app` on a free loopback port for a benchmark, and stop it afterwards."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def running_server(workers: int = 1, env: dict | None = None, with_process: bool = False):
    """Yields the base URL (and the server process, with_process=True, e.g. to read its memory)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="convlens-bench-")
    proc = subprocess.Popen([sys.executable, "-m", "app", "--port", str(port), "--workers", str(workers)], cwd=ROOT,
                            env={**os.environ, "CONVLENS_DATA_DIR": data, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield (url, proc) if with_process else url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
