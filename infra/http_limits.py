"""Request bodies read within a bound: a body over it is refused before more than the bound is read.

A declared Content-Length over the bound is refused without reading a byte; a chunked (or lying) body is read
until it passes the bound and no further. The rest is never read, so the answer closes the connection
(`CLOSE`): the client's unread bytes cannot be taken for its next request.
"""

from __future__ import annotations

CLOSE = {"Connection": "close"}


class BodyTooLarge(Exception):
    """The body is over the bound; `seen` is its declared length, or the bytes read when the refusal came."""

    def __init__(self, seen: int, limit: int):
        super().__init__(seen, limit)
        self.seen, self.limit = seen, limit

    def __str__(self) -> str:
        return f"body of {self.seen}+ bytes is over the limit of {self.limit} bytes"


async def read_limited(request, limit: int) -> bytes:
    """The whole body of a Starlette request, or BodyTooLarge having read at most `limit` bytes (plus one chunk)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)
