"""Issue 14, the HTTP rows: huge headers, unfinished requests, and errors that must keep their headers.

Each test runs against a real `python -m app` (2 workers, h11 with convlens's limits; short timeouts so
the tests stay short) and ends by checking that the same workers still answer and that their memory
grew by less than a stated bound. Time bounds here are socket timeouts that fail the test if the
server never acts, not performance assertions.
"""
from __future__ import annotations

import select
import socket
import threading
import time

import httpx
import pytest

from tests.conftest import running_app, tree_rss_mb, worker_pids

TIMEOUT_S = 1  # header and body timeouts of the server under test
SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"CONVLENS_HEADER_TIMEOUT_S": str(TIMEOUT_S), "CONVLENS_BODY_TIMEOUT_S": str(TIMEOUT_S)}
    with running_app(tmp_path_factory, env, workers=2) as (url, proc, log):
        yield url, proc


@pytest.fixture
def watched(server):
    """Yields the server; afterwards the same workers answer and memory grew by < 100 MB."""
    url, proc = server
    pids, before = worker_pids(proc), tree_rss_mb(proc.pid)
    yield url, proc
    assert httpx.get(url + "/healthz", timeout=10).json()["status"] == "ok"
    assert worker_pids(proc) == pids, "a worker died and was replaced"
    growth = tree_rss_mb(proc.pid) - before
    assert growth < 100, f"the server's memory grew by {growth:.0f} MB"


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    sock.settimeout(timeout)
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    return out


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else 0


def test_a_256_mb_header_is_refused_with_431_after_the_first_kilobytes(watched):
    url, _ = watched
    sent, answer = 0, b""
    with socket.create_connection(("127.0.0.1", _port(url))) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        chunk = b"a" * 2**16
        try:
            while sent < 256 * 2**20 and not select.select([s], [], [], 0)[0]:
                s.sendall(chunk)
                sent += len(chunk)
        except (ConnectionResetError, BrokenPipeError):
            pass
        answer = read_response(s, 10)
    assert sent < 8 * 2**20, f"the server read {sent:,} bytes of header before refusing"
    if answer:  # the reset may overtake the answer on loopback; when it arrives it is a JSON 431
        assert status_of(answer) == 431 and b'"limit": "CONVLENS_MAX_HEADER_BYTES"' in answer, answer[:300]


def test_a_header_of_100_kb_in_one_read_and_too_many_fields_are_431(watched):
    url, _ = watched
    for request, limit in [
        (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", b"MAX_HEADER_BYTES"),
        (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(500)) + b"\r\n",
         b"MAX_HEADER_COUNT"),
    ]:
        with socket.create_connection(("127.0.0.1", _port(url))) as s:
            s.sendall(request)
            answer = read_response(s, 10)
        assert status_of(answer) == 431, answer[:200]
        assert b"application/json" in answer and limit in answer
        assert all(h.encode() in answer.lower() for h in SECURITY)


def test_unfinished_headers_and_short_bodies_are_closed_with_408(watched):
    url, _ = watched
    partial = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    short_body = (b"POST /api/convolve HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{}")
    for request, fragment in [(partial, b"did not arrive"), (short_body, b"stopped arriving")]:
        with socket.create_connection(("127.0.0.1", _port(url))) as s:
            s.sendall(request)
            answer = read_response(s, TIMEOUT_S + 10)  # a timeout here (the server kept it open) fails
        assert status_of(answer) == 408 and fragment in answer, answer[:300]
        assert b"x-frame-options" in answer


def test_thousands_of_silent_connections_neither_block_others_nor_stay_open(watched):
    url, _ = watched
    socks = []
    try:
        for k in range(2000):
            s = socket.create_connection(("127.0.0.1", _port(url)))
            if k % 2:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # half of them start a request
            socks.append(s)
        with httpx.Client(base_url=url, timeout=10) as c:
            answers = [c.get("/healthz").status_code for _ in range(20)]
        assert answers == [200] * 20
        deadline = time.monotonic() + TIMEOUT_S + 15
        open_ = {s.fileno(): s for s in socks}
        poll = select.poll()
        for fd in open_:
            poll.register(fd, select.POLLIN)
        while open_ and time.monotonic() < deadline:
            for fd, _ in poll.poll(1000):
                try:
                    closed = open_[fd].recv(65536) == b""
                except ConnectionResetError:
                    closed = True
                if closed:
                    poll.unregister(fd)
                    del open_[fd]
        assert not open_, f"{len(open_)} of {len(socks)} idle connections were still open"
    finally:
        for s in socks:
            s.close()


def test_refusals_carry_json_and_security_headers(watched):
    url, _ = watched
    with httpx.Client(base_url=url, timeout=10) as c:
        for r, status in [
            (c.post("/api/convolve", content=b" " * (9 * 2**20), headers={"content-type": "application/json"}), 413),
            (c.get("/healthz", headers={"host": "evil.example"}), 400),
            (c.get("/api/nothing-here"), 404),
            (c.post("/api/convolve", json={"layer": {"stride": -1}}), 422),
        ]:
            assert r.status_code == status, r.text
            assert all(h in r.headers for h in SECURITY), (status, dict(r.headers))
            assert r.json()["error"]["message"]


def test_a_500_is_json_with_headers_and_keeps_the_connection(tmp_path):
    """The app with one route that fails, under uvicorn with convlens's protocol, on one connection."""
    import dataclasses

    import uvicorn

    from app.main import create_app
    from app.server import ConvlensH11Protocol
    from app.settings import Settings

    app = create_app(dataclasses.replace(Settings(data_dir=tmp_path / "data")))

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=ConvlensH11Protocol,
                                           log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            bad = c.get("/boom")
            good = c.get("/healthz")
            assert c.get("/boom").status_code == 500
            stats = c._transport._pool.connections
        assert bad.status_code == 500 and bad.json()["error"] == {"code": "internal_error",
                                                                  "message": "internal error; it has been logged"}
        assert "a bug" not in bad.text and all(h in bad.headers for h in SECURITY)
        assert good.status_code == 200
        assert len(stats) == 1, "the 500 closed the keep-alive connection"
    finally:
        server.should_exit = True
        thread.join(10)
