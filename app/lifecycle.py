"""A replica's life behind a proxy or an orchestrator (issue 17): ready, draining, gone.

On SIGTERM (what Kubernetes, podman and a rolling restart send) a worker:

1. starts **draining**: ``/readyz`` answers 503 at once, so a proxy or Kubernetes takes the replica out of
   rotation, while the worker keeps accepting and answering for ``drain_s`` seconds (requests already on
   their way are served, each response with ``Connection: close`` so clients and proxies reconnect
   elsewhere instead of reusing this replica);
2. then stops accepting (uvicorn's own shutdown), lets the requests in flight finish for at most
   ``shutdown_timeout_s`` seconds (app/server.py), and exits.

With ``drain_s`` 0 (the default, for a single server with no proxy) step 1 is instantaneous. SIGINT
(Ctrl-C) skips the drain. The state is per process: every worker gets its own SIGTERM from uvicorn's
supervisor. ``/livez`` (and ``/healthz``) stay 200 while draining: the process is alive and must not be
restarted, only no longer sent new work.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time

log = logging.getLogger("convlens")


class Lifecycle:
    """This process's drain state (a module-level singleton, `STATE`)."""

    def __init__(self) -> None:
        self.draining_since: float | None = None  # time.monotonic() of the SIGTERM

    @property
    def draining(self) -> bool:
        return self.draining_since is not None

    def start_draining(self) -> None:
        if self.draining_since is None:
            self.draining_since = time.monotonic()


STATE = Lifecycle()


def install_drain(loop: asyncio.AbstractEventLoop, drain_s: float) -> bool:
    """Chain a drain in front of the SIGTERM handler uvicorn installed: mark this process draining, and
    hand the signal to uvicorn (which stops accepting and shuts down gracefully) ``drain_s`` later.
    Returns whether it was installed (only the main thread of a served process can; TestClient cannot)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return False  # not served by uvicorn (no graceful handler to hand over to)

    def on_sigterm(sig, frame):
        if STATE.draining:
            return  # a second SIGTERM (e.g. to the whole process group) does not cut the drain short
        STATE.start_draining()
        log.info("SIGTERM: draining for %s s (readiness now fails), then stopping", drain_s)
        if drain_s <= 0:
            previous(sig, frame)
        else:
            loop.call_soon_threadsafe(loop.call_later, drain_s, previous, sig, None)

    signal.signal(signal.SIGTERM, on_sigterm)
    return True


def lifespan_for(drain_s: float):
    """The FastAPI lifespan that installs the drain inside the served process's event loop."""
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        install_drain(asyncio.get_running_loop(), drain_s)
        yield
    return lifespan


class CloseWhileDraining:
    """While draining, every response asks the client to close its connection (``Connection: close``), so a
    kept-alive connection from a proxy is not reused for a request the replica will no longer take."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def closing(message):  # decided when the answer starts: a SIGTERM may arrive mid-request
            if message["type"] == "http.response.start" and STATE.draining:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)
        await self.app(scope, receive, closing)
