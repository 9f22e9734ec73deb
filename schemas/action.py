"""Action family: what the agent does, from scheduling to outcome."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.envelope import Event, Payload

SCHEDULED = "driftline.action.scheduled"
STARTED = "driftline.action.started"
COMPLETED = "driftline.action.completed"
FAILED = "driftline.action.failed"
ESCALATED = "driftline.action.escalated"
VERIFIED = "driftline.action.verified"

ActionKind = Literal[
    "log_error",
    "send_alert",
    "scale_service",
    "clear_cache",
    "retrain_model",
    "deploy_model",
    "rollback_model",
    "change_config",
    "delete_data",
]
Tier = Literal["automatic", "one_approver", "human_only"]


class ActionSpec(Payload):
    action_id: str = Field(description="Idempotency key: an action id is executed at most once.")
    kind: ActionKind = Field(description="What to do.")
    model: str = Field(description="Registered model name the action concerns.")
    params: dict[str, Any] = Field(default_factory=dict, description="Exact parameters of the action.")
    tier: Tier = Field(description="Approval tier the policy gives this kind of action.")
    reason: str = Field("", description="Why the action is proposed.")
    severity: Literal["low", "medium", "high", "critical"] | None = Field(
        None, description="Severity of the incident when the action was proposed (none for a person's own request)."
    )


class Scheduling(Payload):
    action: ActionSpec = Field(description="The action to execute.")
    approved_by: str = Field(description="'policy' for automatic actions, else the approver's user name.")
    approval_id: str | None = Field(None, description="Approval request that authorised it, if any.")


class ActionScheduled(Event):
    """An action may now be executed."""

    topic: ClassVar[str] = SCHEDULED
    type: Literal["driftline.action.scheduled.v1"] = "driftline.action.scheduled.v1"
    data: Scheduling


class ActionProgress(Payload):
    action_id: str = Field(description="The action.")
    kind: ActionKind = Field(description="What it does.")
    model: str = Field(description="Registered model name.")


class ActionStarted(Event):
    """The executor began an action."""

    topic: ClassVar[str] = STARTED
    type: Literal["driftline.action.started.v1"] = "driftline.action.started.v1"
    data: ActionProgress


class ActionOutcome(Payload):
    action_id: str = Field(description="The action.")
    kind: ActionKind = Field(description="What it did.")
    model: str = Field(description="Registered model name.")
    result: dict[str, Any] = Field(default_factory=dict, description="What happened, e.g. versions touched.")
    metrics_before: dict[str, float] = Field(default_factory=dict, description="Relevant metrics before.")
    metrics_after: dict[str, float] = Field(default_factory=dict, description="Relevant metrics after.")
    summary: str = Field("", description="One sentence a person can read.")


class ActionCompleted(Event):
    """An action finished and had its effect."""

    topic: ClassVar[str] = COMPLETED
    type: Literal["driftline.action.completed.v1"] = "driftline.action.completed.v1"
    data: ActionOutcome


class ActionError(Payload):
    action_id: str = Field(description="The action.")
    kind: ActionKind = Field(description="What it tried.")
    model: str = Field(description="Registered model name.")
    error: str = Field(description="What went wrong.")


class ActionFailed(Event):
    """An action could not be carried out."""

    topic: ClassVar[str] = FAILED
    type: Literal["driftline.action.failed.v1"] = "driftline.action.failed.v1"
    data: ActionError


class Escalation(Payload):
    model: str = Field(description="Registered model name.")
    reason: str = Field(description="Why a person must look.")
    severity: Literal["low", "medium", "high", "critical"] = Field(description="Severity of the incident.")
    approval_id: str | None = Field(None, description="Approval that was rejected or expired, if any.")
    action: ActionSpec | None = Field(None, description="The action concerned, if any.")


class ActionEscalated(Event):
    """A person must take over: a rejection, an expiry, or a severe incident."""

    topic: ClassVar[str] = ESCALATED
    type: Literal["driftline.action.escalated.v1"] = "driftline.action.escalated.v1"
    data: Escalation


class Verification(Payload):
    incident_id: str = Field(description="Incident the remediation belonged to (its correlation id).")
    model: str = Field(description="Registered model name.")
    action_id: str | None = Field(None, description="The remediation verified; none when the condition cleared alone.")
    kind: str = Field(description="What was verified: an action kind, or condition_cleared.")
    passed: bool = Field(description="Whether the outcome met the policy's rule.")
    served_version: str | None = Field(None, description="Champion version whose traffic was watched.")
    basis: Literal["labels", "predictions", "cleared", "timeout", "not_applied"] = Field(
        description="What the verdict rests on: labelled rows, predictions only, the alert clearing, no data in time, "
                    "or a remediation that changed nothing in service."
    )
    rows: int = Field(0, description="Labelled rows (or predictions) in the verification window.")
    before: dict[str, float] = Field(default_factory=dict, description="Quality and drift on current traffic before.")
    after: dict[str, float] = Field(default_factory=dict, description="The same measures after the remediation.")
    baseline: dict[str, float] = Field(default_factory=dict, description="The same before the incident (reference).")
    rule: str = Field(description="The rule applied, in words.")
    summary: str = Field(description="The verdict in one sentence a person can read.")


class ActionVerified(Event):
    """The outcome of a remediation (or of an incident whose condition cleared) was checked on current traffic."""

    topic: ClassVar[str] = VERIFIED
    type: Literal["driftline.action.verified.v1"] = "driftline.action.verified.v1"
    data: Verification
