"""A response that sends a binary frame's pieces one after another, so megabytes of array memory go to
the socket without being joined into one bytes object first."""
from __future__ import annotations

from starlette.responses import Response

from app.encoding import FRAME_MEDIA_TYPE


class FrameResponse(Response):
    media_type = FRAME_MEDIA_TYPE

    def __init__(self, chunks: list, headers: dict | None = None):
        self.chunks = chunks
        super().__init__(b"", headers=headers)
        self.headers["content-length"] = str(sum(len(c) for c in chunks))

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        for i, chunk in enumerate(self.chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(self.chunks) - 1})
