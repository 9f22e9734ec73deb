"""DriftMonitor with a model behind its profile: each window report carries the estimated performance, labels
check it, a flipped relation raises concept_drift and a fall in the estimate raises estimated_quality."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from agent.evidence import Evidence
from consumers.monitor.drift_monitor import DriftMonitor, MonitorConfig
from consumers.monitor.impact import build as impact_model
from consumers.monitor.reference import build_profile
from consumers.monitor.windows import WindowPolicy
from schemas import LabelReceived, PredictionMade
from schemas.monitoring import AlertRaised, DriftReported

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FEATURES = [f"x{i}" for i in range(4)]
WEIGHTS = np.array([2.0, -1.5, 1.0, 0.0])
CONFIG = MonitorConfig(window=WindowPolicy(events=500, seconds=3600))


def rows(seed: int, n: int, squeeze: float = 1.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows and labels from a fixed logistic relation; `squeeze` < 1 pulls rows towards the decision boundary."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES))) * squeeze
    y = (rng.random(n) < 1 / (1 + np.exp(-x @ WEIGHTS))).astype(int)
    return pd.DataFrame(x, columns=FEATURES), y


@pytest.fixture(scope="module")
def setup():
    train, y_train = rows(0, 3000)
    holdout, y_holdout = rows(1, 1000)
    model = LogisticRegression().fit(train, y_train)  # well specified: calibrated without help
    profile = build_profile(train.assign(y=y_train), FEATURES, {f: "double" for f in FEATURES}, model="m",
                            version="1", target="y", predict_proba=model.predict_proba, classes=[0, 1],
                            holdout=holdout.assign(y=y_holdout), calibrated=True)
    return profile, model


def stream(model, frame: pd.DataFrame, labels: np.ndarray, start: int = 0, flip: np.ndarray | None = None):
    proba = model.predict_proba(frame)
    preds, label_events = [], []
    for i, (record, p) in enumerate(zip(frame.to_dict("records"), proba, strict=True)):
        rid = f"r{start + i}"
        preds.append(PredictionMade(
            source="test", subject="m", time=T0 + timedelta(milliseconds=start + i),
            data=dict(request_id=rid, model="m", model_version="1", features=record,
                      predicted_class=int(p.argmax()), probabilities={"0": p[0], "1": p[1]}, latency_ms=1.0,
                      channel="bus")))
        label = int(1 - labels[i]) if flip is not None and flip[i] else int(labels[i])
        label_events.append(LabelReceived(source="test", subject="m", time=T0 + timedelta(milliseconds=start + i),
                                          data=dict(request_id=rid, model="m", label=label)))
    joins = {p.data.request_id: p.data.predicted_class for p in preds}
    scores = {p.data.request_id: p.data.probabilities["1"] for p in preds}
    return preds, label_events, joins, scores


def run(monitor, events, joins=None, scores=None, batch=250):
    out = []
    for s in range(0, len(events), batch):
        out += monitor.process(events[s:s + batch], joins or {}, scores or {}).events
    return out


def test_every_window_report_carries_the_estimate_and_labels_check_it(setup):
    profile, model = setup
    assert profile.estimation.calibrated and profile.estimation.calibration_sd == pytest.approx(
        np.sqrt(profile.estimation.realized["accuracy"] * (1 - profile.estimation.realized["accuracy"]) / 3000))
    frame, y = rows(2, 1000)
    preds, labels, joins, scores = stream(model, frame, y)
    monitor = DriftMonitor(profile, CONFIG)
    out = run(monitor, preds[:500] + labels[:500] + preds[500:], joins, scores)
    reports = [e.data for e in out if isinstance(e, DriftReported)]
    assert len(reports) == 2 and not [e for e in out if isinstance(e, AlertRaised)]
    first, second = reports[0].estimate, reports[1].estimate
    assert first.rows == 500 and set(first.estimated) == {"accuracy", "f1", "roc_auc"} and first.calibrated
    assert first.labelled == 0 and first.estimate_valid is None and first.realized == {}
    for name, e in first.estimated.items():
        assert e.lower < e.value < e.upper and abs(e.value - first.reference[name]) < 0.05
    # The 500 labels arrived in the second window: its check is on those rows, and they agree with it.
    assert second.labelled == 500 and second.estimate_valid is True
    # The same figures flat in `quality`, as the diagnoser's evidence reads them.
    q = reports[1].quality
    assert q["estimated_f1"] == second.estimated["f1"].value and q["estimated_f1_lower"] == second.estimated["f1"].lower
    assert q["reference_f1"] == second.reference_realized["f1"] and q["estimate_valid"] == 1.0
    assert "estimate_valid" not in reports[0].quality
    assert second.realized["accuracy"] == pytest.approx(reports[1].quality["accuracy"])
    assert second.expected["accuracy"].value == pytest.approx(second.realized["accuracy"], abs=0.05)


def test_a_flipped_relation_raises_concept_drift_in_the_first_labelled_window(setup):
    profile, model = setup
    frame, y = rows(3, 1000)
    flip = frame["x0"].to_numpy() > 0.5  # the relation flips for a segment of about 30% of rows
    preds, labels, joins, scores = stream(model, frame, y, flip=flip)
    out = run(DriftMonitor(profile, CONFIG), preds[:500] + labels[:500] + preds[500:], joins, scores)
    reports = [e.data for e in out if isinstance(e, DriftReported)]
    assert reports[1].estimate.estimate_valid is False and "changed" in reports[1].estimate.estimate_reason
    raised = {e.data.kind: e.data for e in out if isinstance(e, AlertRaised)}
    concept = raised["concept_drift"]
    assert concept.statistic == "estimate_deviation_sd" and concept.value > concept.threshold > 3
    assert concept.features == [] and concept.details["estimate"]["estimate_valid"] is False
    evidence = Evidence()  # the diagnoser's view of the same report
    evidence.add_report(reports[1])
    assert evidence.estimate_invalid
    assert "no longer holds" in concept.summary and "no feature is drifting" in concept.summary
    assert "estimated_quality" not in raised and concept.details["detections"]["__estimate__"]["drifted_features"] == []


def test_a_fall_in_the_estimate_raises_estimated_quality_before_any_label(setup):
    profile, model = setup
    calm, y = rows(4, 500)
    near, y_near = rows(5, 1000, squeeze=0.25)  # rows pulled to the boundary: the model is less sure, and right less
    preds, _, joins, scores = stream(model, pd.concat([calm, near], ignore_index=True), np.concatenate([y, y_near]))
    out = run(DriftMonitor(profile, CONFIG), preds, joins, scores)
    reports = [e.data.estimate for e in out if isinstance(e, DriftReported)]
    alerts = [e.data for e in out if isinstance(e, AlertRaised) and e.data.kind == "estimated_quality"]
    assert len(reports) == 3 and len(alerts) == 1
    drop = reports[0].reference["f1"] - reports[1].estimated["f1"].value
    assert drop > 0.1 and alerts[0].value == pytest.approx(drop) and alerts[0].threshold == CONFIG.estimated_drop
    assert alerts[0].statistic == "estimated_f1_drop" and alerts[0].window.labelled == 0
    assert "before their labels" in alerts[0].summary
    evidence = Evidence()  # the diagnoser's view: F1 lost against the champion's hold-out, before any label
    evidence.add_report(next(e.data for e in out if isinstance(e, DriftReported) and e.data.estimate.rows == 500
                             and e.data.estimate.estimated["f1"].value < reports[0].reference["f1"] - 0.1))
    assert evidence.estimated_drop() > 0.1


def test_resume_mid_window_keeps_the_windows_scores(setup):
    profile, model = setup
    frame, y = rows(6, 1000)
    preds, labels, joins, scores = stream(model, frame, y)
    events = preds[:500] + labels[:300] + preds[500:]
    whole = run(DriftMonitor(profile, CONFIG), events, joins, scores)
    first = DriftMonitor(profile, CONFIG)
    part = run(first, events[:1000], joins, scores)
    second = DriftMonitor(profile, CONFIG)
    assert second.load_state(json.loads(json.dumps(first.state_dict())))
    part += run(second, events[1000:], joins, scores)
    assert [(e.id, e.data.model_dump()) for e in part] == [(e.id, e.data.model_dump()) for e in whole]


def test_a_tail_closed_when_traffic_stops_reports_no_impact_and_raises_no_estimate_alert(setup):
    """A few rows closed by idleness (`simulate` after one curl left one) tell no share of predictions and no F1."""
    profile, model = setup
    train, _ = rows(0, 3000)
    profile = replace(profile, impact=impact_model(lambda f: model.predict_proba(f[FEATURES])[:, 1], train, FEATURES))
    calm, y = rows(4, 500)
    near, y_near = rows(5, 3, squeeze=0.25)  # the rows that, in a full window, raise estimated_quality above
    preds, _, joins, scores = stream(model, pd.concat([calm, near], ignore_index=True), np.concatenate([y, y_near]))
    monitor = DriftMonitor(profile, CONFIG)
    out = run(monitor, preds, joins, scores) + monitor.close_idle(preds[-1]).events
    full, tail = [e.data for e in out if isinstance(e, DriftReported)]
    assert full.window.events == 500 and full.impact is not None and full.impact.positive_rate is not None
    assert tail.window.events == 3 and tail.estimate.rows == 3 and tail.estimate.estimated == {}  # no estimate
    assert "estimated_f1" not in tail.quality and "estimated_f1" in full.quality
    assert tail.impact is None  # the agent and the page keep the last window that could tell
    assert not [f for f in tail.features if f.drifted]  # 3 rows are "far" from every reference histogram
    assert not [e for e in out if isinstance(e, AlertRaised) and e.data.kind == "estimated_quality"]
