"""ASGI middleware: a request-body cap enforced while reading (Content-Length can lie or be absent),
and security headers on every response."""
from __future__ import annotations

import json

from starlette.exceptions import HTTPException

from app.api.errors import error_body

CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'self'; frame-ancestors 'none'")
# plotly.js compiles some functions at run time, hence 'unsafe-eval'; nothing is loaded from elsewhere.
# style-src 'unsafe-inline' is needed by plotly.js, Swagger UI (style attributes) and ReDoc (styled-components
# writes <style> elements at run time); scripts stay 'self' only, no inline script anywhere.
# ReDoc runs its search index in a Worker made from a blob: URL of its own bundle; only /redoc allows that.
CSP_BY_PATH = {"/redoc": CSP + "; worker-src 'self' blob:"}


class BodyLimit:
    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send, int(declared))
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # raised inside the route, so the app's 413 handler answers
                    raise HTTPException(413, self._message(seen))
            return message
        await self.app(scope, counted, send)

    def _message(self, size: int) -> str:
        return (f"request body is over {self.max_bytes:,} bytes (at least {size:,} sent); "
                "CONVLENS_MAX_REQUEST_BYTES sets the limit")

    async def _refuse(self, send, size: int):
        body = json.dumps(error_body("limit_exceeded", self._message(size))).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                csp = CSP_BY_PATH.get(scope.get("path", ""), CSP)
                headers += [(b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]
                message = {**message, "headers": headers}
            await send(message)
        await self.app(scope, receive, with_headers)
