"""The approvals table after a loss: rows missing from it are rebuilt from the AUDIT stream."""

from __future__ import annotations

import logging

import asyncpg
from nats.js import JetStreamContext

from agent.approvals import book
from agent.approvals.events import SOURCE
from infra.stream_reader import read_stream
from schemas import ActionEscalated, ActionScheduled, ApprovalDecided, ApprovalExpired, ApprovalRequested, parse_event
from schemas.streams import AUDIT

log = logging.getLogger(__name__)
# Who set off the schedule or escalation that makes a decision a fact: the approvals owner (and, in trails written
# before it existed, the gate, which judged decisions then).
_JUDGES = (SOURCE, "agent/gate")


async def rebuild_from_audit(conn: asyncpg.Connection, js: JetStreamContext, stream: str = AUDIT.name) -> int:
    """Replay approval events; re-insert missing requests with their outcomes. Returns rows rebuilt.

    A decision is a fact only when the owner acted on it (it scheduled or escalated because of it): a decision
    published straight to the bus by anyone else leaves the request pending.
    """
    requested: list[ApprovalRequested] = []
    decided: dict[str, ApprovalDecided] = {}
    expired: dict[str, ApprovalExpired] = {}
    accepted: set[str] = set()
    subjects = (ApprovalRequested.topic, ApprovalDecided.topic, ApprovalExpired.topic, ActionScheduled.topic,
                ActionEscalated.topic)
    async for msg in read_stream(js, stream, subjects=subjects):
        event = parse_event(msg.data)
        if isinstance(event, ApprovalRequested):
            requested.append(event)
        elif isinstance(event, ApprovalDecided):
            decided[event.id] = event
        elif isinstance(event, ApprovalExpired):
            expired[event.data.approval_id] = event
        elif event.source in _JUDGES and event.causation_id:
            accepted.add(event.causation_id)
    outcomes: dict[str, dict] = {}
    for d in decided.values():
        if d.id in accepted:
            outcomes[d.data.approval_id] = {"status": "approved" if d.data.decision == "approve" else "rejected",
                                            "decided_by": d.data.decided_by, "at": d.time, "comment": d.data.comment,
                                            "via": d.data.via}
    for approval_id, e in expired.items():
        outcomes.setdefault(approval_id, {"status": "expired", "at": e.data.expired_at})
    rebuilt = 0
    for request in requested:
        rebuilt += await book.restore(conn, request, outcomes.get(request.data.approval_id))
    if rebuilt:
        log.info("rebuilt %d approval request(s) from the audit stream", rebuilt)
    return rebuilt
