"""Approval family: a person's say over a risky action."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.action import ActionSpec
from schemas.envelope import Event, Payload

REQUESTED = "driftline.approval.requested"
DECIDED = "driftline.approval.decided"
EXPIRED = "driftline.approval.expired"
REFUSED = "driftline.approval.refused"


class ApprovalRequest(Payload):
    approval_id: str = Field(description="Id of the request.")
    action: ActionSpec = Field(description="The exact action that would run.")
    action_hash: str = Field(description="sha256 of the action's canonical JSON; a decision must name it.")
    requested_by: str = Field(description="Who asked: 'agent' or a user name.")
    diagnosis_id: str | None = Field(None, description="Diagnosis that led to the request.")
    summary: str = Field(description="What is proposed and why, in plain words.")
    evidence: list[dict[str, Any]] = Field(default_factory=list, description="Evidence shown to the approver.")
    predicted_impact: str = Field("", description="What is expected to change if approved.")
    expires_at: datetime = Field(description="After this the request expires and is escalated.")
    approvals_needed: int = Field(1, description="Distinct approvers needed.")
    severity: Literal["low", "medium", "high", "critical"] | None = Field(
        None, description="Severity of the incident behind the request (from its diagnosis); none for a person's own."
    )


class ApprovalRequested(Event):
    """A risky action waits for a person."""

    topic: ClassVar[str] = REQUESTED
    type: Literal["driftline.approval.requested.v1"] = "driftline.approval.requested.v1"
    data: ApprovalRequest


class Decision(Payload):
    approval_id: str = Field(description="Request decided.")
    decision: Literal["approve", "reject"] = Field(description="The decision.")
    decided_by: str = Field(description="User name of the person deciding.")
    action_hash: str = Field(description="Hash of the action the person saw; must match the request.")
    comment: str = Field("", description="Why.")
    via: Literal["web", "cli"] = Field("web", description="Where the decision was made.")


class ApprovalDecided(Event):
    """A person approved or rejected a request."""

    topic: ClassVar[str] = DECIDED
    type: Literal["driftline.approval.decided.v1"] = "driftline.approval.decided.v1"
    data: Decision


class Expiry(Payload):
    approval_id: str = Field(description="Request that expired.")
    expired_at: datetime = Field(description="When it expired.")


class ApprovalExpired(Event):
    """Nobody decided a request in time."""

    topic: ClassVar[str] = EXPIRED
    type: Literal["driftline.approval.expired.v1"] = "driftline.approval.expired.v1"
    data: Expiry


class Refusal(Payload):
    approval_id: str = Field(description="Request the attempt concerned.")
    attempted_by: str = Field(description="Who tried to decide.")
    decision: str = Field(description="What they tried.")
    reason: Literal[
        "self_approval", "already_decided", "expired", "action_changed", "not_allowed", "bad_csrf", "unknown_request"
    ] = Field(description="Why the attempt was refused.")
    detail: str = Field("", description="The refusal in words.")


class ApprovalRefused(Event):
    """A decision attempt broke a rule and was refused; recorded for the audit."""

    topic: ClassVar[str] = REFUSED
    type: Literal["driftline.approval.refused.v1"] = "driftline.approval.refused.v1"
    data: Refusal
