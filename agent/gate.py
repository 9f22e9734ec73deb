"""The approval gate: safe actions are scheduled at once, risky ones wait for a person, human-only ones never run."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.approvals.rules import action_hash
from agent.policy import Policy
from schemas import ActionEscalated, ActionScheduled, ActionSpec, ApprovalRequested, DiagnosisMade, Event, derived_id
from schemas.action import Escalation, Scheduling
from schemas.approval import ApprovalRequest

SOURCE = "agent/gate"
def predicted_impact(kind: str, params: dict, diagnosis: DiagnosisMade, policy: Policy) -> str:
    """What will change if the action is approved, from the incident's own numbers."""
    sig, model = diagnosis.data.signals, diagnosis.data.model
    now = (f"F1 on {int(sig['labelled']):,} labelled recent predictions is {sig['f1_labelled']:.3f}"
           if sig.get("f1_labelled") is not None and sig.get("labelled") else
           f"F1 is estimated at {sig['f1_estimated']:.3f} before labels" if sig.get("f1_estimated") is not None
           else "no label has arrived yet")
    ref = f" (on its reference hold-out {sig['f1_reference']:.3f})" if sig.get("f1_reference") is not None else ""
    if kind == "retrain_model":
        p = policy.promotion
        fallback = ("fewer: it stays challenger and must win the shadow test on live traffic"
                    if p.too_few_recent == "shadow" else "fewer: on the reference hold-out")
        judged = (f"the newest {p.recent_share:.0%} of the labelled production rows (held out, never trained on; at "
                  f"least {p.min_recent_rows}, {fallback})" if p.decide_on == "recent" else "the reference hold-out")
        beats = f"beats it by {p.margin:.3f} F1" if p.margin > 0 else "has a higher F1"
        drop = float(params.get("max_reference_drop", p.max_reference_drop))
        guard = (f", and loses at most {drop:.2f} on the reference hold-out" if drop < 1 else
                 " (the reference hold-out does not guard: its labels predate the change)")
        return (f"{model} is retrained on its training data plus the labelled production rows. Today the champion's "
                f"{now}{ref}. The new version replaces it only if it {beats} on {judged}{guard}; the result is then "
                f"verified on {policy.verification.labelled_rows} labelled rows it serves.")
    if kind in ("rollback_model", "deploy_model"):
        target = params.get("to_version") or params.get("version") or "the previous version"
        return (f"Version {target} serves {model} at once (gateway and workers reload it). Today the champion's "
                f"{now}{ref}. The outcome is verified on {policy.verification.labelled_rows} labelled rows.")
    if kind == "change_config":
        return f"These settings change without a restart: {', '.join(f'{k}={v}' for k, v in (params.get('config') or {}).items())}."
    if kind == "scale_service":
        return (f"{params.get('service', 'worker')} runs {params.get('replicas')} replica(s) where `driftline up` "
                "supervises it; under compose or Render the outcome says it cannot apply.")
    if kind == "clear_cache":
        return "Every gateway, worker and monitor reloads the champion from the registry."
    return ""


@dataclass
class Plan:
    """What one diagnosis turns into: requests to record (with their rows), and events to announce with them."""

    requests: list[ApprovalRequested] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def action_for(diagnosis: DiagnosisMade, index: int, kind: str, params: dict, reason: str, policy: Policy) -> ActionSpec:
    """The exact action proposal `index` of a diagnosis stands for, with a deterministic id."""
    return ActionSpec(action_id=derived_id(diagnosis.id, "driftline.action", f"{index}:{kind}"), kind=kind,
                      model=diagnosis.data.model, params=params, tier=policy.tier(kind), reason=reason,
                      severity=diagnosis.data.severity)


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
                diagnosis_id=diagnosis.id, summary=f"{d.headline or d.reasoning}{mode}",
                evidence=[e.model_dump(mode="json") for e in d.evidence], severity=d.severity,
                predicted_impact=predicted_impact(action.kind, action.params, diagnosis, policy),
                expires_at=diagnosis.time + policy.approval_ttl),
                action.action_id))
    return out
