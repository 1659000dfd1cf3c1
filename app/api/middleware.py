"""ASGI middleware, outermost first (``install_middleware`` adds them in that order):

* ``Guard``: security headers on every response, and any unhandled error turned into a JSON 500 here,
  inside Starlette's ServerErrorMiddleware, so it carries the headers and the connection stays open;
* ``HostAllowList``: only the Host names in ``allowed_hosts`` (DNS rebinding);
* ``OriginCheck``: POSTs from a foreign ``Origin`` are refused unless CORS allows that origin;
* ``RateLimit``: optional, requests per second per client address;
* ``BodyGuard``: the body's size per kind of route, counted while reading (Content-Length can lie or be
  absent), and a JSON body's depth, keys and values checked before anything parses it;
* ``Admission``: at most ``max_engine_requests`` POSTs on engine routes in flight per worker; the others
  wait up to ``heavy_queue_s``, then get 503 with Retry-After. Within them, app.compute.engine_slot lets
  only ``max_heavy_requests`` computations of ``heavy_macs`` or more run at once.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref

from starlette.exceptions import HTTPException

from app.api import json_scan
from app.api.errors import error_body
from app.settings import Settings

log = logging.getLogger("convlens")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'self'; frame-ancestors 'none'")
# No 'unsafe-eval': the vendored plotly.js (cartesian) draws every chart the pages use without it (its one
# Function() call is function-bind's fallback for engines without Function.prototype.bind).
# style-src 'unsafe-inline' is needed by plotly.js, Swagger UI (style attributes) and ReDoc (styled-components
# writes <style> elements at run time); scripts stay 'self' only, no inline script anywhere.
# ReDoc runs its search index in a Worker made from a blob: URL of its own bundle; only /redoc allows that.
CSP_BY_PATH = {"/redoc": CSP + "; worker-src 'self' blob:"}
OTHER_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                          (b"x-frame-options", b"DENY")]
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), *OTHER_SECURITY_HEADERS]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


async def send_error(send, status: int, code: str, message: str, headers=(), **extra) -> None:
    body = json.dumps(error_body(code, message, **extra)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value
    return None


class Guard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                csp = CSP_BY_PATH.get(scope.get("path", ""), CSP).encode()
                message = {**message, "headers": [*message.get("headers", []), (b"content-security-policy", csp),
                                                  *OTHER_SECURITY_HEADERS]}
            await send(message)
        try:
            await self.app(scope, receive, with_headers)
        except Exception:  # a bug: logged with its traceback; the client gets no stack trace
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send_error(with_headers, 500, "internal_error", "internal error; it has been logged")


def host_name(host: str) -> str:
    """The name in a Host header, without the port ("[::1]:8000" → "[::1]")."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostAllowList:
    def __init__(self, app, allowed: str):
        self.app = app
        self.allowed = {h.strip().lower() for h in allowed.split(",") if h.strip()}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or "*" in self.allowed:
            return await self.app(scope, receive, send)
        host = _header(scope, b"host")
        if host is not None and host_name(host.decode("latin-1")) not in self.allowed:
            return await send_error(send, 400, "host_not_allowed",
                                    f"this server does not answer to the host name "
                                    f"'{host_name(host.decode('latin-1'))[:100]}'; it answers to "
                                    f"{', '.join(sorted(self.allowed))}", limit="CONVLENS_ALLOWED_HOSTS")
        await self.app(scope, receive, send)


class OriginCheck:
    """A browser sends Origin with every cross-site POST (form and multipart uploads included)."""

    def __init__(self, app, cors_origins: list[str]):
        self.app, self.cors = app, set(cors_origins)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in WRITES:
            origin = _header(scope, b"origin")
            if origin is not None:
                origin_s = origin.decode("latin-1")
                host = (_header(scope, b"host") or b"").decode("latin-1")
                same = origin_s.split("://", 1)[-1].lower() == host.lower() and host
                if not same and origin_s not in self.cors and "*" not in self.cors:
                    return await send_error(send, 403, "foreign_origin",
                                            f"requests that change or compute are accepted from this server's own "
                                            f"pages, not from {origin_s[:100]}", limit="CONVLENS_CORS_ORIGINS")
        await self.app(scope, receive, send)


class RateLimit:
    """A token bucket per client address in this worker (off when rate_limit_per_s is 0)."""

    def __init__(self, app, per_s: int, burst: int):
        self.app, self.rate, self.burst = app, per_s, max(1, burst)
        self.buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.rate:
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        tokens, last = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            wait = max(1, round((1 - tokens) / self.rate))
            return await send_error(send, 429, "rate_limited",
                                    f"more than {self.rate} requests per second from one address; retry in {wait} s",
                                    headers=[(b"retry-after", str(wait).encode())], limit="CONVLENS_RATE_LIMIT_PER_S")
        if len(self.buckets) > 10_000:  # forget idle clients rather than grow without bound
            self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 60}
        self.buckets[client] = (tokens - 1, now)
        await self.app(scope, receive, send)


class BodyGuard:
    def __init__(self, app, settings: Settings):
        self.app, self.s = app, settings
        self.limits = json_scan.JsonLimits(settings.max_json_depth, settings.max_json_keys, settings.max_json_values)

    def _limit(self, scope) -> tuple[int, str, bool]:
        """(byte limit, its setting, whether the body is JSON to scan) for this request."""
        s = self.s
        if scope["path"].startswith("/api/models/upload"):
            return s.max_model_bytes + 2**16, "max_model_bytes", False  # + room for the multipart headers
        kind = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if kind.startswith(b"multipart/") or kind == b"application/x-www-form-urlencoded":
            return s.max_request_bytes, "max_request_bytes", False
        return s.max_json_bytes, "max_json_bytes", True

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, setting, is_json = self._limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._refuse(send, limit, setting, int(declared))
        if is_json and scope["method"] in WRITES:
            return await self._json(scope, receive, send, limit, setting)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # raised inside the route, so the app's 413 handler answers
                    raise HTTPException(413, self._message(limit, seen))
            return message
        await self.app(scope, counted, send)

    async def _json(self, scope, receive, send, limit: int, setting: str):
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            if size > limit:
                return await self._refuse(send, limit, setting, size)
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        problem = json_scan.check(body, self.limits)
        if problem is not None:
            return await send_error(send, 413, "limit_exceeded", problem[0], limit=problem[1])
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()
        await self.app(scope, replay, send)

    def _message(self, limit: int, size: int) -> str:
        return f"the request body is over {limit:,} bytes (at least {size:,} sent)"

    async def _refuse(self, send, limit: int, setting: str, size: int):
        await send_error(send, 413, "limit_exceeded", self._message(limit, size),
                         headers=[(b"connection", b"close")], limit=f"CONVLENS_{setting.upper()}")


class Admission:
    """Requests in flight on engine routes (POSTs under heavy_prefixes, so future routes are covered),
    whatever their cost; what a computation costs is admitted by app.compute.engine_slot."""

    def __init__(self, app, settings: Settings):
        self.app, self.slots, self.wait_s = app, max(1, settings.max_engine_requests), settings.heavy_queue_s
        self.prefixes = tuple(p.strip() for p in settings.heavy_prefixes.split(",") if p.strip())
        self._slots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # one semaphore per event loop

    def heavy(self, scope) -> bool:
        return scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(self.prefixes)

    async def __call__(self, scope, receive, send):
        if not self.heavy(scope):
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.slots)
        try:
            if slots.locked():  # wait_for(…, 0) would time out even on a free slot: only wait when full
                await asyncio.wait_for(slots.acquire(), self.wait_s)
            else:
                await slots.acquire()
        except TimeoutError:
            return await send_error(send, 503, "busy",
                                    f"the server is answering {self.slots} computing requests and none finished "
                                    f"within {self.wait_s} s; retry shortly",
                                    headers=[(b"retry-after", str(max(1, self.wait_s)).encode())],
                                    limit="CONVLENS_MAX_ENGINE_REQUESTS")
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()


def install_middleware(app, s: Settings) -> None:
    """Adds the middleware above; Starlette runs the last one added first, hence the reverse order."""
    from fastapi.middleware.cors import CORSMiddleware
    cors = [o.strip() for o in s.cors_origins.split(",") if o.strip()]
    app.add_middleware(Admission, settings=s)
    app.add_middleware(BodyGuard, settings=s)
    app.add_middleware(RateLimit, per_s=s.rate_limit_per_s, burst=s.rate_limit_burst)
    app.add_middleware(OriginCheck, cors_origins=cors)
    if cors:
        app.add_middleware(CORSMiddleware, allow_origins=cors, allow_methods=["GET", "POST"], allow_headers=["*"])
    app.add_middleware(HostAllowList, allowed=s.allowed_hosts)
    app.add_middleware(Guard)
