"""Approval requests nobody decided in time: expired and escalated to a person (through the approvals owner)."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from agent import recommend
from agent.approvals import book
from schemas.envelope import utcnow

log = logging.getLogger(__name__)


async def expire_once(conn: asyncpg.Connection) -> int:
    """Expire due requests; their ApprovalExpired and ActionEscalated leave through the outbox."""
    rows = await book.expire_due(conn, utcnow())
    for row in rows:
        log.info("approval %s expired and was escalated", row["approval_id"])
    return len(rows)


async def expiry_loop(pool: asyncpg.Pool, stop: asyncio.Event, interval: float) -> None:
    """Every `interval` seconds: expire due requests, refresh the recommend-only approval ratio gauge."""
    while not stop.is_set():
        try:
            async with pool.acquire() as conn:
                await expire_once(conn)
                recommend.update_gauge(await recommend.approval_ratio(conn))
        except Exception:  # the database is down: try again next round
            log.exception("expiry round failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
