"""The AUDIT events a report is built from, read in stream order without disturbing any consumer."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nats.js import JetStreamContext

from infra.stream_reader import read_stream
from schemas import Event, InvalidEvent, parse_event

log = logging.getLogger(__name__)


async def load_events(js: JetStreamContext, subjects: Sequence[str] = (), stream: str = "AUDIT") -> list[Event]:
    """Every valid event on the given subjects (all of the stream when none); invalid ones are skipped."""
    events: list[Event] = []
    async for stored in read_stream(js, stream, subjects=tuple(subjects)):
        try:
            events.append(parse_event(stored.data))
        except InvalidEvent as exc:  # the DLQ already holds it; a report is not the place to fail on it
            log.debug("skipping seq %d: %s", stored.seq, exc)
    return events


def of_type(events: Sequence[Event], *classes: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, classes)]


def by_id(events: Sequence[Event], event_id: str) -> Event | None:
    return next((e for e in events if e.id == event_id), None)


def latest(events: Sequence[Event], *classes: type[Event]) -> Event | None:
    found = of_type(events, *classes)
    return found[-1] if found else None
