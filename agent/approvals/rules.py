"""The rules of deciding an approval request. Pure: the row, the person, what they saw, the time."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from infra.users import User
from schemas.action import ActionSpec

RefusalReason = Literal[
    "self_approval", "already_decided", "expired", "action_changed", "not_allowed", "unknown_request"
]


def action_hash(action: ActionSpec) -> str:
    """sha256 of the action's canonical JSON: a decision names the exact action the person saw."""
    canonical = json.dumps(action.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def required_role(action: ActionSpec) -> str:
    """Who may decide: an admin for human-only actions (data deletion), any approver otherwise."""
    return "admin" if action.tier == "human_only" else "approver"


@dataclass(frozen=True)
class Refusal:
    reason: RefusalReason
    detail: str


def check_decision(row: dict | None, person: User | None, seen_hash: str, now: datetime) -> Refusal | None:
    """Why `person` may not decide the request in `row` now (None: they may)."""
    if row is None:
        return Refusal("unknown_request", "no such approval request")
    if person is None or not person.can_decide(row["required_role"]):
        who = person.name if person else "unknown user"
        return Refusal("not_allowed", f"{who} may not decide this request (it needs the role {row['required_role']})")
    if person.name == row["requested_by"]:
        return Refusal("self_approval", "nobody decides a request they made themselves")
    if row["status"] != "pending":
        by = f" by {row['decided_by']}" if row["decided_by"] else ""
        return Refusal("already_decided", f"the request was already {row['status']}{by}")
    if now >= row["expires_at"]:
        return Refusal("expired", f"the request expired at {row['expires_at'].isoformat()}")
    if seen_hash != row["action_hash"]:
        return Refusal("action_changed", "the action changed since it was shown to you; reload and decide again")
    return None


def decision_record(row: dict) -> bytes:
    """What a decision's signature covers: which request, exactly which action, the verdict, who, when."""
    decided_at = row["decided_at"].isoformat() if row.get("decided_at") else ""
    fields = [row["approval_id"], row["action_hash"], row["status"], row.get("decided_by") or "", decided_at]
    return json.dumps(fields, separators=(",", ":")).encode()
