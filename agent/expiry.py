"""Approval requests nobody decided in time: ApprovalExpired, then escalated to a person."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

import asyncpg

from agent import recommend
from agent.gate import SOURCE, _severity
from infra import approvals
from infra.bus import Bus
from schemas import ActionEscalated, ActionSpec, ApprovalExpired, Event, derived_id
from schemas.action import Escalation
from schemas.approval import Expiry

log = logging.getLogger(__name__)


def expired_events(row: dict) -> list[Event]:
    """An expired request row -> ApprovalExpired + ActionEscalated (ids derived from the request)."""
    approval_id = row["approval_id"]
    action = ActionSpec.model_validate(json.loads(row["action"]) if isinstance(row["action"], str) else row["action"])
    common = dict(source=SOURCE, subject=row["model"], correlation_id=row["correlation_id"],
                  causation_id=row["request_event_id"])
    at = row["decided_at"] or row["expires_at"]
    expired = ApprovalExpired(id=derived_id(approval_id, ApprovalExpired.type_name()), **common,
                              data=Expiry(approval_id=approval_id, expired_at=at))
    escalated = ActionEscalated(
        id=derived_id(approval_id, ActionEscalated.type_name()), **common,
        data=Escalation(model=row["model"], severity=_severity(row), approval_id=approval_id, action=action,
                        reason=f"nobody decided {action.kind} before {row['expires_at'].isoformat()}"))
    return [expired, escalated]


async def expire_once(conn: asyncpg.Connection, bus: Bus, now: datetime) -> int:
    """Expire due requests and publish their events in the same transaction (a failed publish expires nothing)."""
    async with conn.transaction():
        rows = await approvals.expire_due(conn, now)
        if rows:
            await bus.publish_many([e for row in rows for e in expired_events(row)])
    for row in rows:
        log.info("approval %s expired and was escalated", row["approval_id"])
    return len(rows)


async def expiry_loop(pool: asyncpg.Pool, bus: Bus, stop: asyncio.Event, interval: float) -> None:
    """Every `interval` seconds: expire due requests, refresh the recommend-only approval ratio gauge."""
    from schemas.envelope import utcnow

    while not stop.is_set():
        try:
            async with pool.acquire() as conn:
                await expire_once(conn, bus, utcnow())
                recommend.update_gauge(await recommend.approval_ratio(conn))
        except Exception:  # the bus or database is down: try again next round
            log.exception("expiry round failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
