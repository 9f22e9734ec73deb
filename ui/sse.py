"""The live pending count: server-sent events, woken by approval events on the bus, with a polling safety net."""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from ui import queries
from ui.auth import Session
from ui.pages import signed_in

router = APIRouter()


class Waker:
    """Wakes every waiting stream at once when something about approvals happened."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


async def watch_bus(bus, waker: Waker):
    """A plain subscription (no consumer state) to approval events; each one wakes the streams."""
    async def _on(msg) -> None:
        waker.wake()

    return await bus.nc.subscribe("driftline.approval.>", cb=_on)


def frame(count: int) -> str:
    return f"event: pending\ndata: {json.dumps({'count': count})}\n\n"


@router.get("/events/pending")
async def pending_events(request: Request, session: Session = Depends(signed_in)):
    """text/event-stream: a `pending` event with the count whenever the pending set changes."""
    state = request.app.state

    async def stream():
        last, idle = None, 0.0
        yield "retry: 2000\n\n"
        while not state.stopping.is_set() and not await request.is_disconnected():
            async with state.pool.acquire() as conn:
                count, marker = await queries.pending_marker(conn)
            if marker != last:
                last, idle = marker, 0.0
                yield frame(count)
            elif idle >= 15:
                idle = 0.0
                yield ": keep-alive\n\n"
            await state.waker.wait(state.settings.ui_live_poll_s)
            idle += state.settings.ui_live_poll_s

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
