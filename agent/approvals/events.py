"""What a request, a decision, an expiry or a refused attempt announces. Pure: built from the approvals row."""

from __future__ import annotations

import json
from datetime import datetime

from agent.approvals.rules import Refusal
from schemas import ActionEscalated, ActionScheduled, ActionSpec, ApprovalDecided, ApprovalExpired, ApprovalRefused
from schemas.action import Escalation, Scheduling
from schemas.approval import Decision, Expiry
from schemas.approval import Refusal as RefusalData
from schemas.envelope import derive

SOURCE = "agent/approvals"


def action_of(row: dict) -> ActionSpec:
    return ActionSpec.model_validate(json.loads(row["action"]) if isinstance(row["action"], str) else row["action"])


def _from_request(row: dict, cls, data, key: str = "", **envelope):
    return derive(cls, cause_id=row["request_event_id"], correlation_id=row["correlation_id"], subject=row["model"],
                  source=SOURCE, data=data, key=key, **envelope)


def decided(row: dict, person: str, decision: str, comment: str, at: datetime, via: str) -> list:
    """ApprovalDecided, then what it sets off: ActionScheduled (approved) or ActionEscalated (rejected).

    One request has one decision, so the ids derive from the request: writing them twice is one event.
    """
    announced = _from_request(row, ApprovalDecided, Decision(
        approval_id=row["approval_id"], decision=decision, decided_by=person, action_hash=row["action_hash"],
        comment=comment, via=via), key="decision", time=at)
    action = action_of(row)
    if decision == "approve":
        follow = announced.caused(ActionScheduled, source=SOURCE, data=Scheduling(
            action=action, approved_by=person, approval_id=row["approval_id"]))
    else:
        why = f": {comment}" if comment else ""
        follow = announced.caused(ActionEscalated, source=SOURCE, data=Escalation(
            model=action.model, severity=row.get("severity") or "medium", approval_id=row["approval_id"],
            action=action, reason=f"{person} rejected {action.kind}{why}"))
    return [announced, follow]


def expired(row: dict, at: datetime) -> list:
    """ApprovalExpired and the escalation to a person that follows it."""
    gone = _from_request(row, ApprovalExpired, Expiry(approval_id=row["approval_id"], expired_at=at))
    action = action_of(row)
    return [gone, gone.caused(ActionEscalated, source=SOURCE, data=Escalation(
        model=action.model, severity=row.get("severity") or "medium", approval_id=row["approval_id"], action=action,
        reason=f"nobody decided {action.kind} before {row['expires_at'].isoformat()}"))]


def refused(row: dict | None, approval_id: str, person: str, decision: str, refusal: Refusal) -> ApprovalRefused:
    """A signed-in person's attempt that broke a rule; each attempt is its own event."""
    data = RefusalData(approval_id=approval_id, attempted_by=person, decision=decision[:40], reason=refusal.reason,
                       detail=refusal.detail)
    if row is None:
        return ApprovalRefused(source=SOURCE, subject="approval", data=data)
    return ApprovalRefused(source=SOURCE, subject=row["model"], correlation_id=row["correlation_id"],
                           causation_id=row["request_event_id"], data=data)
