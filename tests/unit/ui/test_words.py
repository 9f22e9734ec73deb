"""The page's plain words: names and versions where ids and hashes stood, the numbers behind a diagnosis."""

from __future__ import annotations

from ui.models_view import versions
from ui.timeline_words import timeline
from ui.words import action_words, incident_view, resolution, signal_rows

MODEL = "driftline-classifier"
ACTION = {"action_id": "0190e1f4-7c1e-7000-8000-00000000a1", "kind": "retrain_model", "model": MODEL, "params": {}}


def row(seq: int, doc_type: str, data: dict, source: str = "agent/diagnoser", story: str = "") -> dict:
    return {"seq": seq, "type": doc_type, "actor": source, "story": story, "outcome": "",
            "doc": {"type": doc_type, "source": source, "data": data}}


def test_actions_read_as_what_they_do():
    assert action_words(ACTION) == f"retrain {MODEL}"
    assert action_words({"kind": "rollback_model", "params": {"to_version": "1"}}, MODEL) == f"roll {MODEL} back to v1"
    assert action_words({"kind": "scale_service", "params": {"service": "worker", "replicas": 2}}) == \
        "scale the worker to 2"
    assert action_words({"kind": "something_new"}) == "something new"


def test_a_timeline_names_people_actions_and_versions_never_ids():
    rows = timeline([
        row(1, "driftline.alert.raised.v1", {"kind": "data_drift", "model": MODEL, "model_version": "1",
                                             "features": ["worst radius"], "summary": "worst radius drifted"},
            "consumers/monitor"),
        row(2, "driftline.diagnosis.made.v1", {"issue": "data_drift", "severity": "medium", "headline": "H."}),
        row(3, "driftline.approval.requested.v1", {"approval_id": "ap-9", "action": ACTION, "requested_by": "agent",
                                                   "summary": "H."}, "agent/gate"),
        row(4, "driftline.approval.decided.v1", {"approval_id": "ap-9", "decision": "approve", "decided_by": "ada",
                                                 "via": "web", "comment": "go"}, "ui"),
        row(5, "driftline.action.started.v1", {"action_id": ACTION["action_id"], "kind": "retrain_model",
                                               "model": MODEL}, "agent/executor"),
        row(6, "driftline.action.completed.v1", {"action_id": ACTION["action_id"], "kind": "retrain_model",
                                                 "model": MODEL, "result": {"version": "2"}, "summary": "f1 0.95"},
            "agent/executor"),
        row(7, "driftline.model.promoted.v1", {"model": MODEL, "version": "1", "promoted": False,
                                               "challenger_version": "2", "reason": "worse"}, "trainer"),
        {"seq": 8, "type": "driftline.something.v1", "actor": "x", "story": "kept as stored", "outcome": "", "doc": None},
    ])
    said = [(r["who"], r["what"]) for r in rows]
    assert said[0] == ("monitor", f"raised an alert: Data drift on {MODEL} v1: worst radius")
    assert said[1] == ("agent", "diagnosed data drift, severity medium") and rows[1]["why"] == "H."
    assert said[3] == ("ada", f"approved the request to retrain {MODEL} on the page")
    assert said[4] == ("agent (executor)", f"started: retrain {MODEL}")
    assert said[5][1] == f"done: retrain {MODEL} (v2)"
    assert said[6][1] == "kept v1 as champion; v2 declined"
    assert said[7] == ("x", "kept as stored")
    assert not any("0190e1f4" in r["what"] or "ap-9" in r["what"] for r in rows)


def test_an_incident_says_who_or_what_ended_it():
    verified = {"type": "driftline.action.verified.v1", "data": {"kind": "retrain_model", "model": MODEL,
                                                                 "passed": True, "summary": "F1 back to 0.95"}}
    assert resolution("resolved by verification", verified) == f"verified: retrain {MODEL} (F1 back to 0.95)"
    cleared = {"type": "driftline.action.verified.v1", "data": {"kind": "condition_cleared", "passed": True}}
    assert resolution("resolved: condition cleared", cleared) == "the condition cleared by itself"
    rejected = {"type": "driftline.approval.decided.v1", "data": {"decision": "reject", "decided_by": "bob"}}
    assert resolution("rejected by bob", rejected) == "rejected by bob"
    assert resolution("waiting for approval", None) == "waiting for an approver" and resolution("open", None) == ""
    view = incident_view({"status": "open", "title": "raised data_drift alert", "last_word": None,
                          "alert": {"data": {"kind": "data_drift", "model": MODEL, "model_version": "3"}},
                          "diagnosis": {"data": {"severity": "high", "headline": "`worst radius` moved up."}}})
    assert (view["title"], view["severity"], view["headline"]) == (f"Data drift on {MODEL} v3", "high",
                                                                  "`worst radius` moved up.")


def test_the_numbers_behind_a_diagnosis_read_with_their_meaning():
    rows = dict(signal_rows({"prediction_shift": 0.24, "drifted_importance": 0.5, "labelled": 1200.0,
                             "f1_labelled": 0.91, "new_signal": 0.123456}))
    assert rows["change in the share predicted positive"] == "24.0 points"
    assert rows["the model's sensitivity carried by the drifted features"] == "50%"
    assert rows["labelled recent predictions"] == "1,200" and rows["new signal"] == "0.1235"


def test_a_declined_challenger_is_named_and_the_champion_stays():
    events = [
        {"type": "driftline.model.trained.v1", "id": "t1", "correlation_id": "t1",
         "data": {"version": "1", "best_family": "random_forest", "trigger": "startup", "candidates": []}},
        {"type": "driftline.model.promoted.v1", "data": {"version": "1", "promoted": True, "reason": "first"}},
        {"type": "driftline.model.trained.v1", "id": "t2", "correlation_id": "incident-7",
         "data": {"version": "2", "best_family": "xgboost", "trigger": "0190-action", "candidates": []}},
        {"type": "driftline.model.promoted.v1", "data": {
            "version": "1", "promoted": False, "challenger_version": "2", "previous_version": "1", "metric": "f1",
            "reason": "v2 did not beat v1", "comparisons": [
                {"holdout": "recent", "rows": 1200, "challenger_metrics": {"f1": 0.90}, "champion_metrics": {"f1": 0.91}}]}},
    ]
    champion, rows = versions(events)
    assert champion == "1"
    v2, v1 = rows
    assert (v2["version"], v2["outcome"], v2["champion"]) == ("2", "declined; v1 stayed champion", False)
    assert v2["why_trained"] == "retrained to repair an incident" and v2["incident"] == "incident-7"
    assert v2["comparisons"] == ["recent hold-out (1,200 rows): f1 0.900 vs champion 0.910"]
    assert (v1["outcome"], v1["champion"], v1["why_trained"]) == ("promoted", True, "first model")
