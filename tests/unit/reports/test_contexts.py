"""Gathering: which events each report is built from, and which events trigger a report."""

import pytest

from consumers.reports import deployment, drift, incident
from consumers.reports.service import trigger
from schemas.action import ActionCompleted
from tests.unit.reports.story import story


def test_deployment_context_lists_every_candidate_marks_the_chosen_and_compares():
    s = story(version="4", previous="3")
    ctx = deployment.deployment_context(list(s.values()), "4", None)
    assert [c["family"] for c in ctx["candidates"]] == ["logistic_regression", "random_forest", "xgboost", "lightgbm"]
    assert [c["chosen"] for c in ctx["candidates"]] == [True, False, False, False]
    assert ctx["columns"] == ["accuracy", "precision", "recall", "f1", "roc_auc"]
    f1 = next(r for r in ctx["comparison"] if r["metric"] == "f1")
    assert f1["delta"] == pytest.approx(0.9721 - 0.9512)
    assert ctx["validation"] is s["validated"]
    assert all(f["sources"] for f in ctx["figures"])
    assert ctx["figures"][0]["sources"] == [f"ModelTrained {s['trained'].id}"]


def test_default_deployment_version_is_the_latest_promotion():
    first, second = story(version="1"), story(version="2", previous="1")
    assert deployment.default_version(list(first.values()) + list(second.values())) == "2"


def test_drift_resolves_from_an_alert_or_a_report_and_defaults_to_the_latest():
    s = story()
    events = list(s.values())
    by_alert = drift.resolve(events, s["alert"].id)
    assert by_alert.report is s["report"] and by_alert.alerts == [s["alert"]]
    by_report = drift.resolve(events, s["report"].id)
    assert by_report.alerts == [s["alert"]]
    assert drift.resolve(events, None).chosen_id == s["alert"].id  # the latest of either kind
    assert by_alert.chosen_id == s["alert"].id and by_report.chosen_id == s["report"].id
    with pytest.raises(LookupError):
        drift.resolve(events, s["diagnosis"].id)


def test_drift_context_counts_drifted_features_and_detectors():
    s = story()
    ctx = drift.drift_context(drift.resolve(list(s.values()), s["alert"].id))
    assert [f.feature for f in ctx["drifted"]] == ["mean radius", "mean texture", "worst radius"]
    assert ctx["share"] == 0.6 and ctx["detectors"] == ["psi"]
    assert ctx["figures"][0]["sources"] == [f"DriftReported {s['report'].id}", f"AlertRaised {s['alert'].id}"]


def test_incident_timeline_and_outcome_rows():
    s = story()
    ctx = incident.incident_context(list(s.values()), s["alert"].correlation_id)
    assert [t["type"] for t in ctx["timeline"]][:3] == ["DriftReported", "AlertRaised", "DiagnosisMade"]
    assert ctx["status"] == "closed"
    assert "approve by alice via web" in ctx["timeline"][4]["text"]
    assert {r["metric"]: (r["before"], r["after"]) for r in ctx["outcome_rows"]} == {
        "accuracy": (0.8833, 0.9561), "f1": (0.8712, 0.9634)}
    with pytest.raises(LookupError):
        incident.incident_context(list(s.values()), "no-such-id")


def test_triggers_promotion_alert_and_a_closing_outcome_but_not_our_notifications():
    s = story(version="5")
    assert trigger(s["promoted"]) == ("deployment", "5")
    assert trigger(s["alert"]) == ("drift", s["alert"].id)
    assert trigger(s["completed"]) == ("incident", s["alert"].correlation_id)
    assert trigger(s["diagnosis"]) is None
    note = s["alert"].caused(ActionCompleted, source="consumers/notifier",
                             data=dict(action_id="x", kind="send_alert", model="m"))
    assert trigger(note) is None
    declined = s["promoted"].model_copy(update={"data": s["promoted"].data.model_copy(update={"promoted": False})})
    assert trigger(declined) is None


def test_model_evidence_is_drawn_from_numbers_and_falls_back_to_the_trainers_images():
    from consumers.reports.model_evidence import ModelEvidence

    s = story(version="4")
    png = "data:image/png;base64,iVBORw0KGgo="
    numbers = ModelEvidence("4", "run-4", images={"confusion": png, "importance": png}, confusion=[[5, 1], [2, 9]],
                            labels=["0", "1"], importance=(["a", "b"], [0.2, 0.7]), holdout_rows=17)
    ctx = deployment.deployment_context(list(s.values()), "4", numbers)
    evidence = [f for f in ctx["figures"] if f["section"] == "evidence"]
    assert [f["title"] for f in evidence] == ["Confusion matrix on 17 hold-out rows", "Feature importance"]
    assert all(f["src"].startswith("data:image/svg+xml;base64,") for f in evidence)
    assert evidence[0]["sources"] == ["MLflow run run-4 (version 4)", f"ModelTrained {s['trained'].id}"]
    images_only = ModelEvidence("4", "run-4", images={"confusion": png, "importance": png})
    ctx = deployment.deployment_context(list(s.values()), "4", images_only)
    assert [f["src"] for f in ctx["figures"] if f["section"] == "evidence"] == [png, png]
