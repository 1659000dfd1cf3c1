"""A response sent as a list of pieces (bytes or memoryviews), so megabytes of array memory go to the
socket without being joined into, or copied to, one bytes object first."""
from __future__ import annotations

from starlette.responses import Response


class ChunkedResponse(Response):
    def __init__(self, chunks: list, media_type: str, headers: dict | None = None):
        self.chunks = chunks
        super().__init__(b"", media_type=media_type, headers=headers)
        self.headers["content-length"] = str(sum(memoryview(c).nbytes for c in chunks))

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        for i, chunk in enumerate(self.chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(self.chunks) - 1})
