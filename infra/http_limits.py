"""Request bodies read within a bound: a body over it is refused before more than the bound is read.

A declared Content-Length over the bound is refused without reading a byte of the body; a chunked (or lying) body is
read until it passes the bound and no further. The 413 goes out at once and closes the connection. Only after it
is sent are the bytes still arriving discarded, up to DRAIN_FACTOR times the bound and DRAIN_S seconds (nginx's
"lingering close"): closing a socket with unread bytes makes the kernel reset it, and a client that sends its whole
body before it reads (httpx, requests) would lose the answer. Nothing past the bound is ever kept, and a body far
over it is cut off.
"""

from __future__ import annotations

import asyncio
import time

from starlette.responses import JSONResponse, Response

CLOSE = {"Connection": "close"}
DRAIN_FACTOR = 16  # a client sending up to 16x too much still hears why; past that it is cut off
DRAIN_S = 5.0


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


def too_large(request, exc: BodyTooLarge, detail: object | None = None) -> Response:
    """The 413 (`detail` or the exception's words) for a body over its bound."""
    return refusal_413(JSONResponse({"detail": detail if detail is not None else str(exc)}, 413), exc)


def refusal_413(response: Response, exc: BodyTooLarge) -> Response:
    """Any protocol's 413 (its own error document) sent as TooLarge: at once, closing, then draining."""
    return TooLarge(response.body, response.media_type, exc.limit * DRAIN_FACTOR)


class TooLarge(Response):
    """A 413 whose bytes go out at once, whose ASGI response ends only once what the client is still sending has
    been discarded (within the budget): uvicorn stops delivering the request body once a response is complete, and
    then closes a socket that still holds unread bytes (a reset the client may see before the answer)."""

    def __init__(self, body: bytes, media_type: str | None, budget: int):
        super().__init__(body, 413, headers=CLOSE, media_type=media_type)
        self.budget = budget

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        await _discard(receive, self.budget)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _discard(receive, budget: int) -> None:
    deadline = time.monotonic() + DRAIN_S
    try:
        while budget > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            message = await asyncio.wait_for(receive(), left)
            if message["type"] != "http.request":
                return  # the client went away
            budget -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return
    except TimeoutError:
        return
