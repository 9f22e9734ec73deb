"""A decision saved but never announced (the bus failed right after the commit) is announced later.

The decision event has an id derived from the request, so announcing it twice is one event.
"""

from __future__ import annotations

import asyncio
import logging

from nats.js.errors import NotFoundError

from schemas.streams import AUDIT
from ui import decisions

log = logging.getLogger(__name__)


async def projector_caught_up(js, durable: str) -> bool:
    """True when the audit log holds every AUDIT message, so an event missing from it is missing for real."""
    try:
        info = await js.consumer_info(AUDIT.name, durable)
    except NotFoundError:
        return False
    return info.num_pending == 0 and info.num_ack_pending == 0


async def announce_missing(bus, pool, durable: str, grace_s: float = 30.0) -> int:
    """Publish ApprovalDecided for web decisions of the last day that the audit log lacks; returns how many."""
    if not await projector_caught_up(bus.js, durable):
        return 0
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM approvals WHERE decision_via = 'web' AND status IN ('approved', 'rejected') "
            "AND decided_at BETWEEN now() - interval '1 day' AND now() - make_interval(secs => $1)", grace_s)
        events = [decisions.decided(dict(r), r["decided_by"], "approve" if r["status"] == "approved" else "reject",
                                    r["decision_comment"] or "", r["decided_at"]) for r in rows]
        found = await conn.fetch("SELECT event_id FROM audit_log WHERE event_id = ANY($1::text[])",
                                 [e.id for e in events])
    known = {r["event_id"] for r in found}
    missing = [e for e in events if e.id not in known]
    if missing:
        log.warning("announcing %d decisions the bus never got", len(missing))
        await bus.publish_many(missing)
    return len(missing)


async def keep_announcing(bus, pool, durable: str, stop: asyncio.Event, every_s: float = 30.0) -> None:
    while not stop.is_set():
        try:
            await announce_missing(bus, pool, durable)
        except Exception as exc:  # the bus or the database is down: try again next round
            log.warning("decision announcer: %s", exc)
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass
