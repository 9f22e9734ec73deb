"""An incident's life, pure: re-scored as evidence grows, one repair proposed once, the outcome verified."""

from __future__ import annotations

from datetime import timedelta

from agent import verification
from agent.diagnoser import verified_events
from agent.incident_state import IncidentState, ModelFacts
from agent.policy import load_policy
from schemas import ActionCompleted, ActionVerified, DiagnosisMade, DriftReported
from tests.unit.agent.alerts import T0, alert
from tests.unit.agent.evidence_fixtures import evidence, report

POLICY = load_policy()
IMPORTANT = {"worst radius": (0.30, 2.1, 0.21), "mean concave points": (0.20, 1.5, 0.12)}


def window(r) -> DriftReported:
    return DriftReported(source="consumers/monitor", subject=r.model, time=r.window.end, data=r)


def test_severity_rises_with_the_evidence_and_a_repair_is_proposed_once():
    raised = alert(features=("mean fractal dimension",))
    state = IncidentState.opened_by(raised, evidence(report(drifted={"mean fractal dimension": (0.01, 2.0, 0.0)})))
    first = state.rescore(raised, POLICY, ModelFacts(), raised.time)
    assert first.data.severity == "low" and first.data.revision == 1
    # Next window: important features drift and move the predictions; no label yet.
    state.evidence.add_report(report(drifted=IMPORTANT, positive_rate=0.72, minutes=2))
    second = state.rescore(window(report(minutes=2)), POLICY, ModelFacts(), T0 + timedelta(minutes=3))
    assert second.data.severity == "medium" and second.data.previous_severity == "low"
    assert second.data.changes[0] == "severity low -> medium" and second.correlation_id == raised.id
    assert [p.kind for p in second.data.proposed_actions] == ["send_alert", "retrain_model"]
    # The same evidence again changes nothing; labels then confirm the drop: high, told at once, no second retrain.
    assert state.rescore(window(report(minutes=3)), POLICY, ModelFacts(), T0 + timedelta(minutes=4)) is None
    state.evidence.add_report(report(drifted=IMPORTANT, positive_rate=0.72, counts=(460, 40, 40, 460), minutes=4))
    third = state.rescore(window(report(minutes=4)), POLICY, ModelFacts(), T0 + timedelta(minutes=5))
    assert third.data.severity == "high" and third.data.revision == 3
    assert [p.kind for p in third.data.proposed_actions] == ["send_alert"]
    assert len({first.id, second.id, third.id}) == 3
    assert IncidentState.from_json(state.to_json()) == state  # the row round-trips


def retrained(state: IncidentState, promoted: bool = True) -> ActionCompleted:
    return ActionCompleted(source="agent/executor", subject=state.model, correlation_id=state.incident_id,
                           time=T0 + timedelta(minutes=10), data=dict(
                               action_id="act-1", kind="retrain_model", model=state.model,
                               result={"version": "2", "promoted": promoted}, summary="trained version 2"))


def remediation_after(state: IncidentState, done: ActionCompleted) -> verification.Remediation:
    return verification.Remediation(action_id="act-1", kind="retrain_model", version=verification.served_version(done),
                                    at=done.time, before={"f1": 0.84}, baseline={"f1": 0.96})


def test_a_remediation_that_recovers_quality_is_verified_and_resolves_the_incident():
    raised = alert(features=tuple(IMPORTANT))
    state = IncidentState.opened_by(raised, evidence(report(drifted=IMPORTANT, positive_rate=0.72)))
    state.rescore(raised, POLICY, ModelFacts(), raised.time)
    done = retrained(state)
    rem = remediation_after(state, done)
    verification.add_report(rem, report(version="1", counts=(100, 0, 0, 100)))  # the old version's: not counted
    verification.add_report(rem, report(version="2", counts=(50, 2, 2, 46)))
    assert verification.verdict(rem, POLICY.verification, state.incident_id, state.model, done.time) is None
    verification.add_report(rem, report(version="2", counts=(50, 1, 3, 46)))
    result = verification.verdict(rem, POLICY.verification, state.incident_id, state.model, done.time)
    assert result.passed and result.basis == "labels" and result.rows == 200 and result.after["f1"] > 0.95
    assert "version 2 recovered" in result.summary
    events = verified_events(state, done, result, POLICY, ModelFacts(previous="1"))
    assert [type(e) for e in events] == [ActionVerified] and state.phase == "resolved"
    assert events[0].correlation_id == state.incident_id


def test_a_failed_verification_escalates_and_proposes_the_policys_next_step():
    raised = alert(features=tuple(IMPORTANT))
    state = IncidentState.opened_by(raised, evidence(report(drifted=IMPORTANT, positive_rate=0.72)))
    state.rescore(raised, POLICY, ModelFacts(), raised.time)
    done = retrained(state)
    rem = remediation_after(state, done)
    verification.add_report(rem, report(version="2", counts=(80, 20, 20, 80)))
    verification.add_report(rem, report(version="2", counts=(80, 20, 20, 80)))
    result = verification.verdict(rem, POLICY.verification, state.incident_id, state.model, done.time)
    assert not result.passed and "did not recover" in result.summary
    verified, rediagnosed = verified_events(state, done, result, POLICY, ModelFacts(champion="2", previous="1"))
    assert isinstance(verified, ActionVerified) and isinstance(rediagnosed, DiagnosisMade)
    d = rediagnosed.data
    assert d.severity == "high" and d.previous_severity == "medium" and state.phase == "open"
    assert [(p.kind, p.params) for p in d.proposed_actions] == [("send_alert", {}), ("rollback_model", {"to_version": "1"})]
    assert POLICY.escalate and d.severity in POLICY.escalate  # the gate tells a person at once


def test_a_retrain_that_was_not_promoted_changes_nothing_and_fails_at_once():
    raised = alert(features=tuple(IMPORTANT))
    state = IncidentState.opened_by(raised, evidence(report(drifted=IMPORTANT)))
    done = retrained(state, promoted=False)
    rem = remediation_after(state, done)
    result = verification.verdict(rem, POLICY.verification, state.incident_id, state.model, done.time)
    assert not result.passed and result.basis == "not_applied"


def test_a_retrain_left_in_the_shadow_waits_for_its_test():
    raised = alert(features=tuple(IMPORTANT))
    state = IncidentState.opened_by(raised, evidence(report(drifted=IMPORTANT)))
    done = retrained(state, promoted=False)
    done.data.result["shadowed"] = True
    rem = remediation_after(state, done)
    rem.shadowing = verification.shadowing(done)
    assert rem.shadowing == "2" and verification.Remediation.from_json(rem.to_json()) == rem
    assert verification.verdict(rem, POLICY.verification, state.incident_id, state.model, done.time) is None
    verification.add_report(rem, report(version="1", counts=(50, 20, 20, 50)))  # the champion's windows: not counted
    assert verification.verdict(rem, POLICY.verification, "i", "m", done.time + timedelta(minutes=5)) is None
    # Its test promoting it is not a failure (the promotion starts the watch); another challenger's verdict is not
    # its; keep or inconclusive: the repair changed nothing.
    assert verification.shadow_lost(rem, "2", "promote", "", "i", "m") is None
    assert verification.shadow_lost(rem, "3", "keep", "", "i", "m") is None
    lost = verification.shadow_lost(rem, "2", "inconclusive", "no decision within the budget", "i", "m")
    assert not lost.passed and lost.basis == "not_applied" and "did not win its shadow test (inconclusive)" in lost.summary
    late = verification.verdict(rem, POLICY.verification, "i", "m", done.time + timedelta(minutes=31))
    assert not late.passed and "still in the shadow" in late.summary


def test_without_labels_the_verdict_waits_for_the_timeout_then_rests_on_predictions():
    raised = alert(features=tuple(IMPORTANT))
    state = IncidentState.opened_by(raised, evidence(report(drifted=IMPORTANT)))
    done = retrained(state)
    rem = remediation_after(state, done)
    for _ in range(2):
        verification.add_report(rem, report(version="2"))
    assert verification.verdict(rem, POLICY.verification, "i", "m", done.time + timedelta(minutes=5)) is None
    result = verification.verdict(rem, POLICY.verification, "i", "m", done.time + timedelta(minutes=31))
    assert result.passed and result.basis == "predictions"
    rem.drift_windows = 1
    assert verification.verdict(rem, POLICY.verification, "i", "m", done.time + timedelta(minutes=31)).basis == "timeout"


def test_a_promotion_seen_before_the_retrains_outcome_keeps_what_its_traffic_showed():
    """ModelPromoted reaches the diagnoser before the retrain's ActionCompleted: the windows of version 2 counted in
    between are kept when the outcome names the action; a different version starts the count again."""
    from agent.diagnoser import start_remediation

    raised = alert(features=tuple(IMPORTANT))
    state = IncidentState.opened_by(raised, evidence(report(drifted=IMPORTANT, positive_rate=0.72)))
    promoted = start_remediation(state, "evt-promoted", "promotion", "2", T0 + timedelta(minutes=9), "v2 serves")
    verification.add_report(promoted, report(version="2", counts=(90, 5, 5, 100), minutes=9))
    verification.add_report(promoted, report(version="1", counts=(10, 40, 40, 10), minutes=9))  # the old one: not counted
    state.remediation = promoted.to_json()
    done = start_remediation(state, "act-1", "retrain_model", "2", T0 + timedelta(minutes=10), "trained version 2")
    assert (done.action_id, done.kind, done.after.n, done.at) == ("act-1", "retrain_model", 200, promoted.at)
    other = start_remediation(state, "act-2", "deploy_model", "3", T0 + timedelta(minutes=11), "deployed 3")
    assert other.after.n == 0 and other.version == "3"
