"""The approvals read model and the rules of deciding, shared by the gate, the web page and the terminal."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from infra.users import User
from schemas.action import ActionSpec
from schemas.approval import ApprovalRequested

RefusalReason = Literal[
    "self_approval", "already_decided", "expired", "action_changed", "not_allowed", "unknown_request"
]
# HTTP status a refusal maps to, for the web page.
HTTP_STATUS: dict[str, int] = {
    "self_approval": 403,
    "not_allowed": 403,
    "already_decided": 409,
    "expired": 409,
    "action_changed": 409,
    "unknown_request": 404,
}


def action_hash(action: ActionSpec) -> str:
    """sha256 of the action's canonical JSON: a decision names the exact action the person saw."""
    canonical = json.dumps(action.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Refusal:
    reason: RefusalReason
    detail: str

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.reason]


def check_decision(row: dict | None, user: User | None, seen_hash: str, now: datetime) -> Refusal | None:
    """Why `user` may not decide the request in `row` now (None: they may)."""
    if row is None:
        return Refusal("unknown_request", "no such approval request")
    if user is None or not user.can_decide(row["required_role"]):
        who = user.name if user else "unknown user"
        return Refusal("not_allowed", f"{who} may not decide this request (it needs the role {row['required_role']})")
    if user.name == row["requested_by"]:
        return Refusal("self_approval", "nobody decides a request they made themselves")
    if row["status"] != "pending":
        by = f" by {row['decided_by']}" if row["decided_by"] else ""
        return Refusal("already_decided", f"the request was already {row['status']}{by}")
    if now >= row["expires_at"]:
        return Refusal("expired", f"the request expired at {row['expires_at'].isoformat()}")
    if seen_hash != row["action_hash"]:
        return Refusal("action_changed", "the action changed since it was shown to you; reload and decide again")
    return None


async def record_request(conn: asyncpg.Connection, event: ApprovalRequested) -> bool:
    """Insert the read-model row for a request (idempotent); True if it was new."""
    d = event.data
    required = "admin" if d.action.tier == "human_only" else "approver"
    row = await conn.fetchrow(
        """INSERT INTO approvals (approval_id, request_event_id, correlation_id, model, action, action_hash,
               required_role, requested_by, summary, evidence, predicted_impact, diagnosis_id, requested_at, expires_at)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14)
           ON CONFLICT (approval_id) DO NOTHING RETURNING 1""",
        d.approval_id, event.id, event.correlation_id, d.action.model, d.action.model_dump_json(), d.action_hash,
        required, d.requested_by, d.summary, json.dumps(d.evidence, default=str), d.predicted_impact,
        d.diagnosis_id, event.time, d.expires_at,
    )
    return row is not None


async def get(conn: asyncpg.Connection, approval_id: str, *, lock: bool = False) -> dict | None:
    row = await conn.fetchrow(
        "SELECT * FROM approvals WHERE approval_id = $1" + (" FOR UPDATE" if lock else ""), approval_id
    )
    return dict(row) if row else None


async def decide(
    conn: asyncpg.Connection,
    approval_id: str,
    user: User | None,
    decision: Literal["approve", "reject"],
    seen_hash: str,
    now: datetime,
    comment: str = "",
    via: str = "web",
) -> tuple[dict | None, Refusal | None]:
    """Move a pending request to approved/rejected under a row lock; (row, refusal). Publish the event after."""
    async with conn.transaction():
        row = await get(conn, approval_id, lock=True)
        refusal = check_decision(row, user, seen_hash, now)
        if refusal:
            return row, refusal
        status = "approved" if decision == "approve" else "rejected"
        updated = await conn.fetchrow(
            """UPDATE approvals SET status = $2, decided_by = $3, decided_at = $4, decision_comment = $5,
                   decision_via = $6 WHERE approval_id = $1 RETURNING *""",
            approval_id, status, user.name, now, comment, via,
        )
        return dict(updated), None


async def pending(conn: asyncpg.Connection) -> list[dict]:
    rows = await conn.fetch("SELECT * FROM approvals WHERE status = 'pending' ORDER BY requested_at")
    return [dict(r) for r in rows]


async def expire_due(conn: asyncpg.Connection, now: datetime) -> list[dict]:
    """Mark every pending request past its expiry as expired; returns them (to publish ApprovalExpired)."""
    rows = await conn.fetch(
        "UPDATE approvals SET status = 'expired', decided_at = $1 WHERE status = 'pending' AND expires_at <= $1 "
        "RETURNING *",
        now,
    )
    return [dict(r) for r in rows]
