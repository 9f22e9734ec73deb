"""The approval gate: safe actions are scheduled at once, risky ones wait for a person, decisions are checked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from agent.policy import Policy
from infra.approvals import action_hash
from schemas import (
    ActionEscalated,
    ActionScheduled,
    ActionSpec,
    ApprovalDecided,
    ApprovalRefused,
    ApprovalRequested,
    DiagnosisMade,
    Event,
    derived_id,
)
from schemas.action import Escalation, Scheduling
from schemas.approval import ApprovalRequest, Refusal

SOURCE = "agent/gate"
_IMPACT = {
    "retrain_model": "A new model is trained on the reference data plus recent labelled production data; it becomes "
    "champion only if it beats the current one on the same held-out data.",
    "deploy_model": "The champion alias moves to the named version; serving reloads it.",
    "rollback_model": "The champion alias moves back to the previous champion version; serving reloads it.",
    "change_config": "A new configuration version is applied.",
    "scale_service": "The number of local replicas of the service changes.",
    "clear_cache": "The local model cache is emptied; models are downloaded again on next load.",
}


def _etype(cls: type[Event]) -> str:
    return cls.type_name()


@dataclass
class Plan:
    """What one diagnosis turns into: requests to record then publish, and events to publish at once."""

    requests: list[ApprovalRequested] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def action_for(diagnosis: DiagnosisMade, index: int, kind: str, params: dict, reason: str, policy: Policy) -> ActionSpec:
    """The exact action proposal `index` of a diagnosis stands for, with a deterministic id."""
    return ActionSpec(action_id=derived_id(diagnosis.id, "driftline.action", f"{index}:{kind}"), kind=kind,
                      model=diagnosis.data.model, params=params, tier=policy.tier(kind), reason=reason)


def plan(diagnosis: DiagnosisMade, policy: Policy, *, recommend_only: bool = False) -> Plan:
    """DiagnosisMade -> ActionScheduled (automatic), ApprovalRequested (risky), ActionEscalated (severe, human only)."""
    d = diagnosis.data
    out = Plan()

    def envelope(cls, data, key):
        return cls(id=derived_id(diagnosis.id, _etype(cls), key), source=SOURCE, subject=diagnosis.subject,
                   correlation_id=d.incident_id, causation_id=diagnosis.id, data=data)

    if d.severity in policy.escalate:
        out.events.append(envelope(ActionEscalated, Escalation(
            model=d.model, severity=d.severity, reason=f"{d.severity} incident: {d.reasoning}"), "severity"))
    for index, proposal in enumerate(d.proposed_actions):
        action = action_for(diagnosis, index, proposal.kind, dict(proposal.params), proposal.reason, policy)
        if action.tier == "human_only":
            out.events.append(envelope(ActionEscalated, Escalation(
                model=d.model, severity=d.severity, action=action,
                reason=f"{action.kind} is human only: the agent never schedules it; a person must start it."),
                action.action_id))
        elif action.tier == "automatic" and not recommend_only:
            out.events.append(envelope(ActionScheduled, Scheduling(action=action, approved_by="policy"),
                                       action.action_id))
        else:
            request_id = derived_id(diagnosis.id, _etype(ApprovalRequested), action.action_id)
            mode = " (recommend-only mode: nothing runs without a person)" if action.tier == "automatic" else ""
            out.requests.append(ApprovalRequested(
                id=request_id, source=SOURCE, subject=diagnosis.subject, correlation_id=d.incident_id,
                causation_id=diagnosis.id,
                data=ApprovalRequest(
                    approval_id=request_id, action=action, action_hash=action_hash(action), requested_by="agent",
                    diagnosis_id=diagnosis.id, summary=f"{action.kind} for {d.model}{mode}: {d.reasoning}",
                    evidence=[e.model_dump(mode="json") for e in d.evidence],
                    predicted_impact=_IMPACT.get(action.kind, ""),
                    expires_at=diagnosis.time + policy.approval_ttl)))
    return out


def _refuse(decided: ApprovalDecided, reason: str, detail: str) -> ApprovalRefused:
    x = decided.data
    return ApprovalRefused(
        id=derived_id(decided.id, _etype(ApprovalRefused)), source=SOURCE, subject=decided.subject,
        correlation_id=decided.correlation_id, causation_id=decided.id,
        data=Refusal(approval_id=x.approval_id, attempted_by=x.decided_by, decision=x.decision, reason=reason,
                     detail=detail))


def on_decision(decided: ApprovalDecided, row: dict | None) -> Event:
    """ApprovalDecided + its read-model row -> ActionScheduled (approved), ActionEscalated (rejected) or refusal."""
    x = decided.data
    if row is None:
        return _refuse(decided, "unknown_request", "no such approval request")
    status = "approved" if x.decision == "approve" else "rejected"
    if row["status"] != status or row["decided_by"] != x.decided_by:
        return _refuse(decided, "not_allowed", f"the decision was not recorded under the approval rules (the request "
                                               f"is {row['status']}{' by ' + row['decided_by'] if row['decided_by'] else ''})")
    action = ActionSpec.model_validate(json.loads(row["action"]) if isinstance(row["action"], str) else row["action"])
    if x.action_hash != row["action_hash"] or action_hash(action) != row["action_hash"]:
        return _refuse(decided, "action_changed", "the decision names a different action than the one requested")
    common = dict(source=SOURCE, subject=decided.subject, correlation_id=row["correlation_id"], causation_id=decided.id)
    if status == "approved":
        return ActionScheduled(id=derived_id(x.approval_id, _etype(ActionScheduled)), **common,
                               data=Scheduling(action=action, approved_by=x.decided_by, approval_id=x.approval_id))
    why = f": {x.comment}" if x.comment else ""
    return ActionEscalated(id=derived_id(x.approval_id, _etype(ActionEscalated)), **common,
                           data=Escalation(model=action.model, severity=_severity(row), approval_id=x.approval_id,
                                           action=action, reason=f"{x.decided_by} rejected {action.kind}{why}"))


def _severity(row: dict) -> str:
    """Severity recorded in the request's summary by the diagnoser's words; medium when unknown."""
    for name in ("critical", "high", "medium", "low"):
        if f"Severity {name}" in (row.get("summary") or ""):
            return name
    return "medium"
