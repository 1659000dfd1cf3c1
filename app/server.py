"""The HTTP layer convlens runs on: uvicorn with the h11 protocol, held to limits a stranger cannot stretch.

uvicorn's default (httptools) reads headers of any size and waits forever for a request that never
finishes: a 256 MB header was answered 200, and thousands of half-sent requests held their sockets for
minutes. This protocol, used by ``convlens serve``:

* refuses a request line + headers over ``max_header_bytes`` (h11 stops buffering there) or with more
  than ``max_header_count`` fields: 431;
* closes a connection whose request line and headers have not arrived within ``header_timeout_s``
  (counted from the connection, or from the end of the previous response), and one whose body stalls
  for ``body_timeout_s``: 408 when a request is known, else a plain close;
* answers its own errors (400, 408, 431) like the app: a JSON body and the security headers.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors.multiprocess import Multiprocess

from app.api.middleware import SECURITY_HEADERS
from app.api.errors import error_body
from app.settings import get_settings

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def error_response_bytes(status: int, code: str, message: str, **extra) -> bytes:
    """A complete HTTP/1.1 response that closes the connection, for errors found before the app runs."""
    body = json.dumps(error_body(code, message, **extra)).encode()
    head = [b"HTTP/1.1 %d %s" % (status, _REASONS[status]), b"content-type: application/json",
            b"content-length: %d" % len(body), b"connection: close"]
    head += [name + b": " + value for name, value in SECURITY_HEADERS]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _Connection(h11.Connection):
    """h11's connection that remembers why it refused a request and counts header fields."""

    def __init__(self, max_size: int, max_count: int):
        super().__init__(h11.SERVER, max_size)
        self.max_count = max_count
        self.refused: h11.RemoteProtocolError | None = None

    def next_event(self):
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refused = exc
            raise
        if isinstance(event, h11.Request):
            # h11 bounds only what it buffers while a request is incomplete: a request that arrives in one
            # read (up to 256 KB) is parsed whole, so its size is checked here too.
            size = len(event.method) + len(event.target) + sum(len(k) + len(v) + 4 for k, v in event.headers)
            if len(event.headers) > self.max_count:
                self.refused = h11.RemoteProtocolError(
                    f"the request has {len(event.headers)} header fields; at most {self.max_count} are allowed",
                    error_status_hint=431)
            elif size > self._max_incomplete_event_size:
                self.refused = h11.RemoteProtocolError("Request too long", error_status_hint=431)
            if self.refused is not None:
                raise self.refused
        return event


class ConvlensH11Protocol(H11Protocol):
    def __init__(self, config, server_state, app_state, _loop=None):
        super().__init__(config, server_state, app_state, _loop)
        s = get_settings()
        self.settings = s
        self.conn = _Connection(s.max_header_bytes, s.max_header_count)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # --- timers -------------------------------------------------------------------------------------
    def _cancel(self, name: str) -> None:
        timer = getattr(self, name)
        if timer is not None:
            timer.cancel()
            setattr(self, name, None)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.settings.header_timeout_s, self._header_timeout)

    def _arm_body_timer(self) -> None:
        self._cancel("_body_timer")
        self._body_timer = self.loop.call_later(self.settings.body_timeout_s, self._body_timeout)

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc) -> None:
        self._cancel("_header_timer")
        self._cancel("_body_timer")
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the next request on a kept-alive connection starts its clock here
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel("_header_timer")
        if self.conn.their_state is h11.SEND_BODY:
            self._arm_body_timer()  # restarted by every piece of the body
        else:
            self._cancel("_body_timer")

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._cancel("_header_timer")  # the keep-alive timer covers the idle wait

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a request arrived: say why it is being closed
            self.transport.write(error_response_bytes(
                408, "request_timeout", f"the request line and headers did not arrive within "
                f"{self.settings.header_timeout_s} s", limit="CONVLENS_HEADER_TIMEOUT_S"))
        self.transport.close()

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        if self.flow.read_paused:  # we stopped reading, not the client: wait again
            self._arm_body_timer()
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            cycle.disconnected = True  # the app sees http.disconnect and its late writes are dropped
            self.transport.write(error_response_bytes(
                408, "request_timeout", f"the request body stopped arriving for {self.settings.body_timeout_s} s "
                "before its declared length was reached", limit="CONVLENS_BODY_TIMEOUT_S"))
        self.transport.close()

    # --- uvicorn's own refusals, as JSON with the security headers -------------------------------------
    def send_400_response(self, msg: str) -> None:
        refused, self.conn.refused = self.conn.refused, None
        if refused is not None and refused.error_status_hint == 431:
            limit = ("CONVLENS_MAX_HEADER_COUNT" if "header fields" in str(refused) else "CONVLENS_MAX_HEADER_BYTES")
            message = (str(refused) if limit.endswith("COUNT") else
                       f"the request line and headers are over {self.settings.max_header_bytes:,} bytes")
            self.transport.write(error_response_bytes(431, "headers_too_large", message, limit=limit))
        else:
            detail = f": {refused}" if refused is not None else ""
            self.transport.write(error_response_bytes(400, "bad_request", f"malformed HTTP request{detail}"))
        self.transport.close()


class Supervisor(Multiprocess):
    """uvicorn's worker supervisor, which also closes its own copy of the listening socket when it stops the
    workers (issue 17): the workers keep theirs while they drain (app/lifecycle.py), and once the last one
    stops accepting, new connections are refused at once, so a proxy moves on to another replica, instead
    of waiting in the backlog of a socket the supervisor still held open until it exited."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()

    def keep_subprocess_alive(self) -> None:
        before = {p.pid for p in self.processes}
        super().keep_subprocess_alive()
        dead = before - {p.pid for p in self.processes}  # replaced by keep_subprocess_alive
        if dead and os.environ.get(METRICS_DIR_ENV):
            from prometheus_client import multiprocess
            for pid in dead:
                multiprocess.mark_process_dead(pid)  # its live gauges (the heavy queue) stop counting


def prepare_metrics_dir() -> None:
    """prometheus-client's multiprocess mode (app/metrics.py): one fresh directory for this server's workers,
    named in the environment before any of them imports prometheus_client (which reads it at import)."""
    if "prometheus_client" in sys.modules:  # its values would stay in this process's memory, unseen by /metrics
        raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set")
    if os.environ.get(METRICS_DIR_ENV):
        shutil.rmtree(os.environ[METRICS_DIR_ENV], ignore_errors=True)  # an old run's files would be summed in
        os.makedirs(os.environ[METRICS_DIR_ENV])
    else:
        os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="convlens-metrics-")


def run(host: str, port: int, workers: int) -> None:
    """Serve ``app.asgi:app`` with the protocol above (also what each worker process loads)."""
    import uvicorn
    s = get_settings()
    # timeout_worker_healthcheck: uvicorn kills a worker that does not answer its supervisor's ping in time;
    # at the default 5 s, workers starting on a loaded machine (load average 20 on 2 cores in the test
    # runs) were killed and restarted in a loop. timeout_graceful_shutdown: a stop waits at most this long
    # (shutdown_timeout_s) for requests in flight, instead of for the slowest client; before it, a SIGTERM
    # drains for drain_s (app/lifecycle.py).
    config = uvicorn.Config("app.asgi:app", host=host, port=port, workers=workers, log_level="info",
                            http="app.server:ConvlensH11Protocol", h11_max_incomplete_event_size=s.max_header_bytes,
                            timeout_keep_alive=5, timeout_worker_healthcheck=30,
                            timeout_graceful_shutdown=s.shutdown_timeout_s)
    if s.metrics:
        prepare_metrics_dir()
    if config.workers > 1:  # what uvicorn.run does, with the supervisor above
        Supervisor(config, sockets=[config.bind_socket()]).run()
    else:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            raise SystemExit(3)  # uvicorn's STARTUP_FAILURE
