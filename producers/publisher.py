"""Prediction requests onto the bus: an SDK (one request and wait for the answer, or many at a pace) and CSV input."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from infra.bus import REPLY_HEADER, Bus
from infra.nats_auth import answer_inbox
from schemas import Event, PredictionRequested, new_id, parse_event

SOURCE = "producers/publisher"
# A producer's batch that a saturated server does not acknowledge in time is sent again (stored once: the event ids
# are the Nats-Msg-Id) rather than ending the run; only the last try's timeout is an error.
PUBLISH_ATTEMPTS = 3


def request_event(features: dict, *, model: str, request_id: str | None = None,
                  source: str = SOURCE) -> PredictionRequested:
    """One PredictionRequested; the request id defaults to the event id (labels join on it)."""
    event_id = new_id()
    return PredictionRequested(id=event_id, source=source, subject=model, data=dict(
        request_id=request_id or event_id, model=model, features=features))


def _plain(value):
    """CSV cells as JSON values: numpy scalars as Python ones, empty cells as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def read_csv_records(path: Path) -> Iterator[tuple[str | None, dict]]:
    """(request id or None, features) per row; a `request_id` column, if present, is the id, not a feature."""
    import pandas as pd

    frame = pd.read_csv(path)
    ids = frame.pop("request_id").astype(str).tolist() if "request_id" in frame.columns else [None] * len(frame)
    columns = list(frame.columns)
    for rid, row in zip(ids, frame.itertuples(index=False, name=None), strict=True):
        yield rid, {name: _plain(value) for name, value in zip(columns, row, strict=True)}


async def publish_paced(bus: Bus, events: Iterable[Event], rate: float | None = None, chunk: int = 500,
                        on_sent=None) -> int:
    """Publish events pipelined, at `rate` per second on an absolute schedule (None: as fast as acks allow)."""
    sent, pending = 0, []
    start = time.monotonic()
    for event in events:
        if rate:
            due = start + sent / rate
            delay = due - time.monotonic()
            if delay > 0:
                if pending:
                    await bus.publish_many(pending, attempts=PUBLISH_ATTEMPTS)
                    pending = []
                await asyncio.sleep(delay)
        pending.append(event)
        sent += 1
        if on_sent:
            on_sent(event)
        if len(pending) >= chunk:
            await bus.publish_many(pending, attempts=PUBLISH_ATTEMPTS)
            pending = []
    if pending:
        await bus.publish_many(pending, attempts=PUBLISH_ATTEMPTS)
    return sent


async def request_and_wait(bus: Bus, features: dict, *, model: str, timeout: float = 10.0,
                           request_id: str | None = None) -> Event:
    """Publish one request and wait for its PredictionMade (or PredictionFailed) on a private inbox.

    The answer comes on an inbox named in the Driftline-Reply-To header: a core NATS reply subject would only
    receive JetStream's PubAck, since the request subject is captured by a stream. The inbox is in the answers
    subtree of this connection's inbox prefix, the only part of it the worker may publish to (infra.nats_auth).
    """
    prefix, _, token = bus.nc.new_inbox().rpartition(".")
    inbox = answer_inbox(prefix, token)
    sub = await bus.nc.subscribe(inbox, max_msgs=1)
    try:
        await bus.publish(request_event(features, model=model, request_id=request_id), headers={REPLY_HEADER: inbox})
        msg = await sub.next_msg(timeout=timeout)
        return parse_event(msg.data)
    finally:
        try:
            await sub.unsubscribe()
        except Exception:  # already removed after its one message
            pass
