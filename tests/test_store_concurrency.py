"""The upload store under concurrency and crashes: atomic writes, the quota, and nothing half-written."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from app.inputs.store import InputStore, tensor_id
from tests.conftest import ROOT, _free_port
from tests.images import png_rgb


def _writer(root: str, seed: int, rounds: int) -> None:
    store = InputStore(Path(root), 10**9)
    same = np.arange(64 * 64, dtype=np.float32).reshape(1, 64, 64)
    for k in range(rounds):
        store.put(same, f"upload:writer{seed}")
        store.put(np.full((1, 8, 8), seed * 1000 + k, np.float32), "upload:own")


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
    assert len(list(tmp_path.glob("*.npy"))) == 1 + 4 * 40
    assert not list(tmp_path.glob(".tmp-*"))


def test_quota_holds_under_many_uploads(tmp_path):
    one = np.zeros((1, 128, 128), np.float32)
    quota = 10 * (one.nbytes + 128)
    store = InputStore(tmp_path, quota)
    for k in range(50):
        store.put(one + k, "upload")
    total = sum(p.stat().st_size for p in tmp_path.glob("*.npy"))
    assert total <= quota and len(list(tmp_path.glob("*.npy"))) >= 9


def test_a_server_killed_mid_upload_serves_nothing_half_written(tmp_path):
    data_dir = tmp_path / "data"
    env = {**os.environ, "CONVLENS_DATA_DIR": str(data_dir)}

    def start():
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "app", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(url + "/healthz", timeout=1)
                return proc, port, url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    proc, port, url = start()
    complete = httpx.post(url + "/api/inputs", files={"file": ("a.png", png_rgb())}).json()
    body = png_rgb(300, 300)
    boundary = "convlensboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode()
    total = len(head) + len(body) + len(f"\r\n--{boundary}--\r\n")
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall((f"POST /api/inputs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
                   f"Content-Length: {total}\r\n\r\n").encode() + head + body[: len(body) // 2])
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)  # mid-upload
        proc.wait(10)
    proc, port, url = start()
    try:
        stored = sorted(p.stem for p in (data_dir / "inputs").glob("*.npy"))
        assert stored == [complete["id"]]  # the interrupted upload left nothing that could be served
        assert httpx.get(f"{url}/api/inputs/{complete['id']}").json()["shape"] == [3, 12, 16]
    finally:
        proc.terminate()
        proc.wait(10)
