"""The gate's and the approvals owner's pure logic: what a diagnosis becomes, the rules of deciding, and what a
decision or an expiry announces."""

from __future__ import annotations

from datetime import timedelta

from agent.approvals import events
from agent.approvals.rules import action_hash, check_decision
from agent.diagnoser import diagnose
from agent.gate import plan
from agent.incident_state import ModelFacts
from agent.policy import load_policy
from infra.users import User
from schemas import ActionEscalated, ActionScheduled, ApprovalDecided, ApprovalExpired, ApprovalRequested
from schemas.agent import ProposedAction
from tests.unit.agent.alerts import T0, alert
from tests.unit.agent.evidence_fixtures import evidence, report

POLICY = load_policy()


IMPORTANT = {"worst radius": (0.30, 2.1, 0.21), "mean concave points": (0.20, 1.5, 0.12)}


def medium():
    return diagnose(alert(features=tuple(IMPORTANT)), POLICY, evidence(report(drifted=IMPORTANT, positive_rate=0.71)))


def row_for(request: ApprovalRequested, **changes) -> dict:
    d = request.data
    row = dict(approval_id=d.approval_id, request_event_id=request.id, correlation_id=request.correlation_id,
               model=d.action.model, action=d.action.model_dump_json(), action_hash=d.action_hash,
               requested_by="agent", summary=d.summary, status="pending", decided_by=None,
               decided_at=None, expires_at=d.expires_at, severity=d.severity, required_role="approver")
    row.update(changes)
    return row


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
    assert d.evidence[0]["metric"] == "psi" and "retrain" in d.summary and d.severity == "medium"
    assert request.correlation_id == made.correlation_id and request.causation_id == made.id
    assert [e.data.action.kind for e in out.events] == ["send_alert"]


def test_a_high_regression_escalates_and_asks_to_roll_back_to_the_named_version():
    made = diagnose(alert(kind="quality_drift", features=()), POLICY,
                    evidence(report(version="2", counts=(180, 20, 20, 180))),
                    ModelFacts(champion="2", previous="1", promoted_at=T0 - timedelta(minutes=30)))
    out = plan(made, POLICY)
    assert made.data.severity == "high" and made.data.issue == "regression"
    escalations = [e for e in out.events if isinstance(e, ActionEscalated)]
    assert len(escalations) == 1 and escalations[0].data.severity == "high" and escalations[0].data.action is None
    [request] = out.requests
    assert request.data.action.kind == "rollback_model" and request.data.action.params == {"to_version": "1"}
    assert request.data.severity == "high"


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
    announced, follow = events.decided(row_for(request, status="approved", decided_by="bob"), "bob", "approve", "ok",
                                       request.time, "cli")
    assert isinstance(announced, ApprovalDecided) and announced.data.via == "cli"
    assert announced.causation_id == request.id and announced.correlation_id == request.correlation_id
    assert isinstance(follow, ActionScheduled) and follow.causation_id == announced.id
    assert follow.data.action == request.data.action and follow.data.approved_by == "bob"
    assert follow.data.approval_id == request.data.approval_id and follow.correlation_id == request.correlation_id
    again = events.decided(row_for(request), "bob", "approve", "ok", request.time, "cli")
    assert [e.id for e in again] == [announced.id, follow.id]  # written twice, one event each


def test_rejection_escalates_with_the_requests_severity_field():
    [request] = plan(medium(), POLICY).requests
    assert request.data.severity == "medium"
    _, follow = events.decided(row_for(request, severity="high"), "bob", "reject", "not now", request.time, "web")
    assert isinstance(follow, ActionEscalated) and follow.data.severity == "high"
    assert follow.data.approval_id == request.data.approval_id and "bob rejected retrain_model: not now" in follow.data.reason


def test_decision_rules():
    [request] = plan(medium(), POLICY).requests
    row, now = row_for(request, required_role="approver"), request.time
    bob, vic, agent = User("bob", "approver"), User("vic", "viewer"), User("agent", "admin")
    h = request.data.action_hash
    assert check_decision(row, bob, h, now) is None
    assert check_decision(None, bob, h, now).reason == "unknown_request"
    assert check_decision(row, None, h, now).reason == "not_allowed"
    assert check_decision(row, vic, h, now).reason == "not_allowed"
    assert check_decision(row, agent, h, now).reason == "self_approval"
    assert check_decision(row, bob, "0" * 64, now).reason == "action_changed"
    assert check_decision(row, bob, h, request.data.expires_at).reason == "expired"
    assert check_decision(row_for(request, status="approved", decided_by="carol"), bob, h, now).reason == "already_decided"
    refused = events.refused(row, request.data.approval_id, "vic", "approve", check_decision(row, vic, h, now))
    assert refused.correlation_id == request.correlation_id and refused.data.reason == "not_allowed"


def test_an_expired_request_is_escalated():
    [request] = plan(medium(), POLICY).requests
    expired, escalated = events.expired(row_for(request, status="expired"), request.data.expires_at)
    assert isinstance(expired, ApprovalExpired) and isinstance(escalated, ActionEscalated)
    assert expired.data.approval_id == escalated.data.approval_id == request.data.approval_id
    assert escalated.correlation_id == request.correlation_id and "nobody decided" in escalated.data.reason
