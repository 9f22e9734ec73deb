"""Reading back what a test's subjects stored: the first n messages, or events, on a subject."""

from __future__ import annotations

import asyncio

from infra.bus import Bus
from schemas import Event, parse_event
from schemas.streams import stream_for


async def stored(bus: Bus, subject: str, n: int, timeout: float = 20.0) -> list:
    """The first n messages stored on `subject`, read back from its stream by an ephemeral consumer."""
    stream = "DLQ" if subject.startswith("driftline.dlq") else stream_for(subject).name
    sub = await bus.js.pull_subscribe(subject, stream=stream)
    got = []
    async with asyncio.timeout(timeout):
        while len(got) < n:
            try:
                got += await sub.fetch(n - len(got), timeout=1)
            except TimeoutError:
                continue
    await sub.unsubscribe()
    return got


async def stored_events(bus: Bus, subject: str, n: int, timeout: float = 20.0) -> list[Event]:
    return [parse_event(m.data) for m in await stored(bus, subject, n, timeout)]
