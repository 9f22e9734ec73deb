"""The events a decision attempt on the page becomes: ApprovalDecided on success, ApprovalRefused otherwise."""

from __future__ import annotations

from datetime import datetime

from schemas.approval import ApprovalDecided, ApprovalRefused, Decision, Refusal
from schemas.envelope import derived_id, new_id

SOURCE = "ui"


def decided(row: dict, decided_by: str, decision: str, comment: str, at: datetime) -> ApprovalDecided:
    """The decision event, in the request's incident, caused by the request, timed as the row was updated.

    One request has one decision, so its id is derived from the request's: announcing it again is no new event.
    """
    return ApprovalDecided(
        id=_decision_id(row["request_event_id"]),
        source=SOURCE, time=at, subject=row["model"], correlation_id=row["correlation_id"],
        causation_id=row["request_event_id"],
        data=Decision(approval_id=row["approval_id"], decision=decision, decided_by=decided_by,
                      action_hash=row["action_hash"], comment=comment, via="web"),
    )


def refused(row: dict | None, approval_id: str, attempted_by: str, decision: str, reason: str,
            detail: str) -> ApprovalRefused:
    """A refused attempt, recorded for the audit; in the request's incident when the request exists."""
    extra = {}
    if row is not None:
        extra = {"correlation_id": row["correlation_id"], "causation_id": row["request_event_id"]}
    return ApprovalRefused(
        source=SOURCE, subject=row["model"] if row else "approval",
        data=Refusal(approval_id=approval_id, attempted_by=attempted_by, decision=decision[:40], reason=reason,
                     detail=detail),
        **extra,
    )


def _decision_id(request_event_id: str) -> str:
    try:
        return derived_id(request_event_id, ApprovalDecided.type_name(), "decision")
    except ValueError:  # a request id that is not a UUID (not ours): a fresh id, announced at most once here
        return new_id()
