"""The story of a time range or one incident, from the AUDIT stream alone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import NamedTuple

from nats.js import JetStreamContext

from consumers.audit.chain import parse_document
from consumers.audit.story import tell
from infra.stream_reader import read_stream
from schemas.streams import AUDIT


class Chapter(NamedTuple):
    seq: int
    time: str
    type: str
    correlation_id: str
    who: str
    what: str
    why: str
    outcome: str

    def json(self) -> str:
        return json.dumps(self._asdict(), ensure_ascii=False)


def chapter(seq: int, raw: bytes) -> Chapter:
    """One event's line of the story. Pure."""
    doc = parse_document(raw)
    line = tell(doc)
    short = str(doc.get("type", "invalid")).removeprefix("driftline.").rsplit(".v", 1)[0]
    return Chapter(seq, str(doc.get("time", "")), short, str(doc.get("correlationid", doc.get("correlation_id", ""))), str(line.actor),
                   line.what, str(line.why), line.outcome)


async def replay(js: JetStreamContext, *, since: datetime | None = None, until: datetime | None = None,
                 correlation: str | None = None) -> AsyncIterator[Chapter]:
    """Chapters in stream order from `since` (or the start) to `until`, only those of `correlation` when given."""
    async for msg in read_stream(js, AUDIT.name, start_time=since):
        if since and msg.time < since:  # a start time past the end delivers the last message: not ours
            continue
        if until and msg.time > until:
            return
        c = chapter(msg.seq, msg.data)
        if correlation and c.correlation_id != correlation:
            continue
        yield c


def table(chapters: list[Chapter]) -> str:
    """A plain-text table a person can read in a terminal."""
    head = ("SEQ", "WHEN", "WHO", "WHAT", "WHY", "OUTCOME")
    rows = [(str(c.seq), c.time[:19].replace("T", " "), c.who, c.what, c.why[:80], c.outcome) for c in chapters]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]
    widths[3] = min(widths[3], 60)
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(v[:w].ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
