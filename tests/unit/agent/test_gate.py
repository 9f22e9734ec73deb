"""The gate's pure logic: what a diagnosis becomes, and what a decision about a request may schedule."""

from __future__ import annotations

from datetime import timedelta

from agent.diagnoser import diagnose
from agent.expiry import expired_events
from agent.gate import on_decision, plan
from agent.policy import load_policy
from infra.approvals import action_hash
from schemas import ActionEscalated, ActionScheduled, ApprovalDecided, ApprovalRefused, ApprovalRequested
from schemas.agent import ProposedAction
from tests.unit.agent.alerts import alert

POLICY = load_policy()


def medium():
    return diagnose(alert(value=0.45, features=("a", "b", "c")), POLICY)


def row_for(request: ApprovalRequested, **changes) -> dict:
    d = request.data
    row = dict(approval_id=d.approval_id, request_event_id=request.id, correlation_id=request.correlation_id,
               model=d.action.model, action=d.action.model_dump_json(), action_hash=d.action_hash,
               requested_by="agent", summary=d.summary, status="pending", decided_by=None,
               decided_at=None, expires_at=d.expires_at)
    row.update(changes)
    return row


def decided(request: ApprovalRequested, decision="approve", by="bob", hash_=None) -> ApprovalDecided:
    return ApprovalDecided(source="cli/approvals", subject=request.subject, correlation_id=request.correlation_id,
                           causation_id=request.id, data=dict(approval_id=request.data.approval_id, decision=decision,
                                                              decided_by=by, action_hash=hash_ or request.data.action_hash,
                                                              via="cli"))


def test_low_severity_is_scheduled_at_once_by_the_policy():
    made = diagnose(alert(value=0.25), POLICY)
    out = plan(made, POLICY)
    assert not out.requests
    assert [e.data.action.kind for e in out.events] == ["log_error", "send_alert"]
    assert all(isinstance(e, ActionScheduled) and e.data.approved_by == "policy" for e in out.events)
    assert {e.correlation_id for e in out.events} == {made.data.incident_id}
    assert [e.id for e in plan(made, POLICY).events] == [e.id for e in out.events]  # redelivery: same ids


def test_medium_asks_for_approval_of_the_exact_action():
    made = medium()
    out = plan(made, POLICY)
    [request] = out.requests
    d = request.data
    assert d.action.kind == "retrain_model" and d.action.tier == "one_approver" and d.requested_by == "agent"
    assert d.action_hash == action_hash(d.action) and d.approval_id == request.id
    assert d.expires_at == made.time + timedelta(minutes=60)
    assert d.evidence[0]["metric"] == "psi" and "retrain" in d.summary
    assert request.correlation_id == made.correlation_id and request.causation_id == made.id
    assert [e.data.action.kind for e in out.events] == ["send_alert"]


def test_high_severity_escalates_and_proposes_a_rollback_after_approval():
    made = diagnose(alert(value=1.0, features=("a", "b", "c", "d")), POLICY)
    out = plan(made, POLICY)
    assert made.data.severity == "high"
    escalations = [e for e in out.events if isinstance(e, ActionEscalated)]
    assert len(escalations) == 1 and escalations[0].data.severity == "high" and escalations[0].data.action is None
    assert [r.data.action.kind for r in out.requests] == ["rollback_model"]


def test_human_only_actions_are_never_scheduled():
    made = medium()
    made = made.model_copy(update={"data": made.data.model_copy(update={"proposed_actions": [
        ProposedAction(kind="delete_data", params={"older_than_days": 30})]})})
    out = plan(made, POLICY)
    assert not out.requests
    [event] = out.events
    assert isinstance(event, ActionEscalated) and "human only" in event.data.reason


def test_recommend_only_executes_nothing_automatically():
    out = plan(diagnose(alert(value=0.25), POLICY), POLICY, recommend_only=True)
    assert not [e for e in out.events if isinstance(e, ActionScheduled)]
    assert [r.data.action.kind for r in out.requests] == ["log_error", "send_alert"]
    assert "recommend-only" in out.requests[0].data.summary


def test_approval_schedules_exactly_the_requested_action():
    [request] = plan(medium(), POLICY).requests
    event = on_decision(decided(request), row_for(request, status="approved", decided_by="bob"))
    assert isinstance(event, ActionScheduled)
    assert event.data.action == request.data.action and event.data.approved_by == "bob"
    assert event.data.approval_id == request.data.approval_id and event.correlation_id == request.correlation_id


def test_rejection_escalates_and_schedules_nothing():
    [request] = plan(medium(), POLICY).requests
    event = on_decision(decided(request, "reject"), row_for(request, status="rejected", decided_by="bob"))
    assert isinstance(event, ActionEscalated)
    assert event.data.approval_id == request.data.approval_id and "bob rejected retrain_model" in event.data.reason
    assert event.data.severity == "medium"


def test_decisions_that_did_not_pass_the_rules_are_refused():
    [request] = plan(medium(), POLICY).requests
    forged = on_decision(decided(request), row_for(request))  # straight to the bus: the row is still pending
    assert isinstance(forged, ApprovalRefused) and forged.data.reason == "not_allowed"
    other = on_decision(decided(request, by="eve"), row_for(request, status="approved", decided_by="bob"))
    assert isinstance(other, ApprovalRefused) and other.data.reason == "not_allowed"
    changed = on_decision(decided(request, hash_="0" * 64), row_for(request, status="approved", decided_by="bob"))
    assert isinstance(changed, ApprovalRefused) and changed.data.reason == "action_changed"
    unknown = on_decision(decided(request), None)
    assert isinstance(unknown, ApprovalRefused) and unknown.data.reason == "unknown_request"


def test_an_expired_request_is_escalated():
    [request] = plan(medium(), POLICY).requests
    expired, escalated = expired_events(row_for(request, status="expired", decided_at=request.data.expires_at))
    assert expired.data.approval_id == escalated.data.approval_id == request.data.approval_id
    assert escalated.correlation_id == request.correlation_id and "nobody decided" in escalated.data.reason
