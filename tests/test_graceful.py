"""Graceful restarts and probes (issue 17): on SIGTERM readiness fails first, requests already in flight
finish, new connections are refused once the drain is over, and the process exits within its bound."""
from __future__ import annotations

import io
import json
import shutil
import signal
import socket
import time

import httpx
import numpy as np
import pytest

from app.lifecycle import STATE
from tests.conftest import running_app

BOUNDARY = b"convlens-boundary"


def _multipart_npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="x.npy"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + buf.getvalue() + b"\r\n--" + BOUNDARY + b"--\r\n")


def _start_slow_upload(url: str, body: bytes, sent: int) -> socket.socket:
    """An upload whose body stops after `sent` bytes: a request in flight for as long as the test wants."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(b"POST /api/inputs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary="
                 + BOUNDARY + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:sent])
    return sock


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _wait_for(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def _readyz(url: str):
    try:
        return httpx.get(f"{url}/readyz", timeout=5)
    except httpx.TransportError as exc:
        return exc


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_fails_readiness_first_then_finishes_the_request_in_flight(tmp_path_factory, workers):
    arr = np.arange(2 * 6 * 6, dtype=np.float32).reshape(2, 6, 6)
    body = _multipart_npy(arr)
    with running_app(tmp_path_factory, {"CONVLENS_DRAIN_S": "2", "CONVLENS_BODY_TIMEOUT_S": "60"},
                     workers=workers) as (url, proc, log):
        assert httpx.get(f"{url}/readyz").json()["status"] == "ready"
        sock = _start_slow_upload(url, body, len(body) // 2)
        time.sleep(0.3)  # the request has reached a worker
        proc.send_signal(signal.SIGTERM)
        # 1. readiness fails while the replica still answers (so a proxy or Kubernetes drains it) …
        draining = _wait_for(lambda: (r := _readyz(url)) is not None and getattr(r, "status_code", 0) == 503 and r)
        assert draining.json()["error"]["code"] == "draining"
        assert draining.headers["connection"] == "close"
        live = httpx.get(f"{url}/livez")
        assert live.status_code == 200  # alive: not to be restarted, only sent no new work
        # 2. … then new connections are refused (a proxy moves on to another replica at once) …
        assert isinstance(_wait_for(lambda: isinstance(r := _readyz(url), httpx.ConnectError) and r),
                          httpx.ConnectError)
        assert proc.poll() is None  # still finishing the upload
        # 3. … and the request in flight completes.
        sock.sendall(body[len(body) // 2:])
        status, answer = _read_response(sock)
        sock.close()
        assert status == 201, answer
        assert json.loads(answer)["shape"] == [2, 6, 6]
        proc.wait(timeout=30)


def test_a_request_that_never_finishes_holds_the_stop_only_for_shutdown_timeout_s(tmp_path_factory):
    body = _multipart_npy(np.zeros((1, 4, 4), np.float32))
    env = {"CONVLENS_DRAIN_S": "0", "CONVLENS_SHUTDOWN_TIMEOUT_S": "1", "CONVLENS_BODY_TIMEOUT_S": "600"}
    with running_app(tmp_path_factory, env) as (url, proc, log):
        sock = _start_slow_upload(url, body, 10)  # never completed: only the shutdown bound can end it
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)  # without the bound it would wait for the 600 s body timeout
        assert "timeout graceful shutdown exceeded" in log.read_text()
        sock.close()


def test_readiness_is_503_while_draining_and_every_answer_closes_its_connection(client, monkeypatch):
    assert client.get("/readyz").status_code == 200
    assert client.get("/livez").status_code == 200
    assert "connection" not in client.get("/healthz").headers
    monkeypatch.setattr(STATE, "draining_since", time.monotonic())
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["error"]["code"] == "draining"
    assert client.get("/livez").status_code == 200
    for answer in (client.get("/healthz"), client.post("/api/convolve", json={"input": {"kind": "nope"}})):
        assert answer.headers["connection"] == "close"


def test_readiness_fails_when_the_store_directory_is_gone(client, settings):
    assert client.get("/readyz").status_code == 200
    shutil.rmtree(settings.data_dir / "inputs")
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
    assert str(settings.data_dir) not in r.text
