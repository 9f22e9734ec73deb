"""The approval gate: safe actions are scheduled at once, risky ones wait for a person, human-only ones never run."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.approvals.rules import action_hash
from agent.policy import Policy
from schemas import ActionEscalated, ActionScheduled, ActionSpec, ApprovalRequested, DiagnosisMade, Event, derived_id
from schemas.action import Escalation, Scheduling
from schemas.approval import ApprovalRequest

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


@dataclass
class Plan:
    """What one diagnosis turns into: requests to record (with their rows), and events to announce with them."""

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

    def caused(cls, data, key):
        return diagnosis.caused(cls, source=SOURCE, data=data, key=key, correlation_id=d.incident_id)

    if d.severity in policy.escalate:
        out.events.append(caused(ActionEscalated, Escalation(
            model=d.model, severity=d.severity, reason=f"{d.severity} incident: {d.reasoning}"), "severity"))
    for index, proposal in enumerate(d.proposed_actions):
        action = action_for(diagnosis, index, proposal.kind, dict(proposal.params), proposal.reason, policy)
        if action.tier == "human_only":
            out.events.append(caused(ActionEscalated, Escalation(
                model=d.model, severity=d.severity, action=action,
                reason=f"{action.kind} is human only: the agent never schedules it; a person must start it."),
                action.action_id))
        elif action.tier == "automatic" and not recommend_only:
            out.events.append(caused(ActionScheduled, Scheduling(action=action, approved_by="policy"),
                                     action.action_id))
        else:
            request_id = derived_id(diagnosis.id, ApprovalRequested.type_name(), action.action_id)
            mode = " (recommend-only mode: nothing runs without a person)" if action.tier == "automatic" else ""
            out.requests.append(caused(ApprovalRequested, ApprovalRequest(
                approval_id=request_id, action=action, action_hash=action_hash(action), requested_by="agent",
                diagnosis_id=diagnosis.id, summary=f"{action.kind} for {d.model}{mode}: {d.reasoning}",
                evidence=[e.model_dump(mode="json") for e in d.evidence], severity=d.severity,
                predicted_impact=_IMPACT.get(action.kind, ""), expires_at=diagnosis.time + policy.approval_ttl),
                action.action_id))
    return out
