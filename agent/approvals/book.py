"""The approvals table's one writer: each change and the events it announces are written in one transaction.

Callers pass a connection (the gate inside its own transaction, the desk for people, the expiry loop); the
outbox relay publishes what is written here. Reads for pages and lists are in `read`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from agent.approvals import events
from agent.approvals.read import get
from agent.approvals.rules import Refusal, check_decision, decision_record, required_role
from infra import outbox
from infra.keys import Signer
from infra.users import User
from schemas import ApprovalRequested

# Approval ids are ours (UUIDs); anything else is refused before it reaches the database or the audit trail.
_APPROVAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,79}")


@dataclass(frozen=True)
class Verdict:
    """What a decision attempt came to: the row as it is now, and the refusal if there was one."""

    row: dict | None
    refusal: Refusal | None


def valid_id(approval_id: str) -> bool:
    return bool(_APPROVAL_ID.fullmatch(approval_id or ""))


async def _insert(conn: asyncpg.Connection, event: ApprovalRequested) -> bool:
    d = event.data
    return bool(await conn.fetchval(
        """INSERT INTO approvals (approval_id, request_event_id, correlation_id, model, action, action_hash,
               required_role, requested_by, summary, evidence, predicted_impact, diagnosis_id, requested_at,
               expires_at, severity)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15)
           ON CONFLICT (approval_id) DO NOTHING RETURNING 1""",
        d.approval_id, event.id, event.correlation_id, d.action.model, d.action.model_dump_json(), d.action_hash,
        required_role(d.action), d.requested_by, d.summary, json.dumps(d.evidence, default=str),
        d.predicted_impact, d.diagnosis_id, event.time, d.expires_at, d.severity,
    ))


async def record_request(conn: asyncpg.Connection, event: ApprovalRequested) -> bool:
    """Insert the request's row and enqueue its event (idempotent by approval id); True if it was new."""
    async with conn.transaction():
        new = await _insert(conn, event)
        if new:
            await outbox.enqueue(conn, [event])
    return new


async def decide(conn: asyncpg.Connection, approval_id: str, person: User | None, decision: str, seen_hash: str,
                 now: datetime, *, signer: Signer, comment: str = "", via: str = "web") -> Verdict:
    """Judge a person's decision under a row lock; approve/reject the row, sign and announce it, or record the
    refusal. The signature is what the executor checks: a row written straight into the table is no decision.

    Only a signed-in person's refused attempt becomes an audit event; an anonymous one is the caller's metric.
    """
    if decision not in ("approve", "reject"):
        raise ValueError(f"a decision is approve or reject, not {decision[:40]!r}")
    if not valid_id(approval_id):
        return Verdict(None, Refusal("unknown_request", "no such approval request"))
    async with conn.transaction():
        row = await get(conn, approval_id, lock=True)
        refusal = check_decision(row, person, seen_hash, now)
        if refusal is not None:
            if person is not None:
                await outbox.enqueue(conn, [events.refused(row, approval_id, person.name, decision, refusal)])
            return Verdict(row, refusal)
        status = "approved" if decision == "approve" else "rejected"
        signature = signer.sign(decision_record({**row, "status": status, "decided_by": person.name, "decided_at": now}))
        updated = dict(await conn.fetchrow(
            """UPDATE approvals SET status = $2, decided_by = $3, decided_at = $4, decision_comment = $5,
                   decision_via = $6, decision_signature = $7 WHERE approval_id = $1 RETURNING *""",
            approval_id, status, person.name, now, comment, via, signature))
        await outbox.enqueue(conn, events.decided(updated, person.name, decision, comment, now, via))
    return Verdict(updated, None)


async def expire_due(conn: asyncpg.Connection, now: datetime) -> list[dict]:
    """Expire every pending request past its time and announce each (expired, then escalated)."""
    async with conn.transaction():
        rows = [dict(r) for r in await conn.fetch(
            "UPDATE approvals SET status = 'expired', decided_at = $1 WHERE status = 'pending' AND expires_at <= $1 "
            "RETURNING *", now)]
        await outbox.enqueue(conn, [e for row in rows for e in events.expired(row, row["decided_at"])])
    return rows


async def restore(conn: asyncpg.Connection, request: ApprovalRequested, outcome: dict | None) -> bool:
    """Re-insert a lost row from the audit trail, with its recorded outcome; announces nothing (it was announced)."""
    async with conn.transaction():
        inserted = await _insert(conn, request)
        if inserted and outcome:
            await conn.execute(
                "UPDATE approvals SET status = $2, decided_by = $3, decided_at = $4, decision_comment = $5, "
                "decision_via = $6 WHERE approval_id = $1",
                request.data.approval_id, outcome["status"], outcome.get("decided_by"), outcome["at"],
                outcome.get("comment"), outcome.get("via"))
    return inserted
