"""The gate's state after a restart: rows missing from the approvals read model are rebuilt from AUDIT."""

from __future__ import annotations

import logging

import asyncpg
from nats.js import JetStreamContext

from agent.gate import SOURCE
from infra import approvals
from infra.stream_reader import read_stream
from schemas import ActionEscalated, ActionScheduled, ApprovalDecided, ApprovalExpired, ApprovalRequested, parse_event
from schemas.approval import DECIDED, EXPIRED, REQUESTED
from schemas.streams import AUDIT

log = logging.getLogger(__name__)


async def rebuild_from_audit(conn: asyncpg.Connection, js: JetStreamContext, stream: str = AUDIT.name) -> int:
    """Replay approval and gate events; re-insert missing requests with their decisions. Returns rows rebuilt.

    Only a decision the gate accepted (it scheduled or escalated because of it) is replayed as a fact: a
    decision published straight to the bus, which the gate refused or never saw, leaves the request pending.
    """
    requested: list[ApprovalRequested] = []
    decided: dict[str, ApprovalDecided] = {}
    expired: dict[str, ApprovalExpired] = {}
    accepted: set[str] = set()
    subjects = (f"{REQUESTED}", f"{DECIDED}", f"{EXPIRED}", ActionScheduled.topic, ActionEscalated.topic)
    async for msg in read_stream(js, stream, subjects=subjects):
        event = parse_event(msg.data)
        if isinstance(event, ApprovalRequested):
            requested.append(event)
        elif isinstance(event, ApprovalDecided):
            decided[event.id] = event
        elif isinstance(event, ApprovalExpired):
            expired[event.data.approval_id] = event
        elif event.source == SOURCE and event.causation_id:
            accepted.add(event.causation_id)
    decisions = {d.data.approval_id: d for d in decided.values() if d.id in accepted}
    rebuilt = 0
    async with conn.transaction():
        for request in requested:
            if not await approvals.record_request(conn, request):
                continue  # the row is there: the table is the truth
            rebuilt += 1
            approval_id = request.data.approval_id
            if approval_id in decisions:
                d = decisions[approval_id]
                await conn.execute(
                    "UPDATE approvals SET status = $2, decided_by = $3, decided_at = $4, decision_comment = $5, "
                    "decision_via = $6 WHERE approval_id = $1",
                    approval_id, "approved" if d.data.decision == "approve" else "rejected", d.data.decided_by,
                    d.time, d.data.comment, d.data.via)
            elif approval_id in expired:
                await conn.execute("UPDATE approvals SET status = 'expired', decided_at = $2 WHERE approval_id = $1",
                                   approval_id, expired[approval_id].data.expired_at)
    if rebuilt:
        log.info("rebuilt %d approval request(s) from the audit stream", rebuilt)
    return rebuilt
