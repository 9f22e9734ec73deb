"""DriftMonitor on seeded prediction and label events: one alert per condition, clears, deterministic ids, resume."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from consumers.monitor.drift_monitor import DriftMonitor, MonitorConfig
from consumers.monitor.windows import WindowPolicy
from schemas import LabelReceived, PredictionMade
from schemas.monitoring import AlertCleared, AlertRaised, DriftReported

from .streams import profile, stream

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CONFIG = MonitorConfig(window=WindowPolicy(events=500, seconds=3600))


def predictions(frame, shift_rows=range(0), feature="x3"):
    events = []
    for i, row in enumerate(frame.to_dict("records")):
        if i in shift_rows:
            row[feature] += 0.5
        events.append(PredictionMade(
            id=f"0190a000-0000-7000-8000-{i:012d}", source="test", subject="m", time=T0 + timedelta(milliseconds=i),
            data=dict(request_id=f"r{i}", model="m", model_version="1", features=row, predicted_class=i % 2,
                      probabilities={"0": 0.5, "1": 0.5}, latency_ms=1.0, channel="bus")))
    return events


def run(monitor, events, batch=250, joins=None):
    out = []
    for s in range(0, len(events), batch):
        out += monitor.process(events[s:s + batch], joins or {}).events
    return out


def kinds(events):
    return [type(e).__name__ for e in events if not isinstance(e, DriftReported)]


def test_control_stream_reports_every_window_and_alerts_nothing():
    out = run(DriftMonitor(profile(), CONFIG), predictions(stream(1, 5000)))
    reports = [e for e in out if isinstance(e, DriftReported)]
    assert len(reports) == 10 and kinds(out) == []
    assert all(r.data.window.events == 500 and r.data.share_drifted == 0 for r in reports)
    psi = [f for f in reports[0].data.features if f.statistic == "psi"]
    assert len(psi) == 5 and not any(f.drifted for f in psi)


def test_drift_raises_one_alert_naming_the_feature_then_clears():
    events = predictions(stream(2, 6000), shift_rows=range(1500, 3000))
    out = run(DriftMonitor(profile(), CONFIG), events)
    alerts = [e for e in out if isinstance(e, AlertRaised)]
    assert kinds(out) == ["AlertRaised", "AlertCleared"]
    alert = alerts[0].data
    assert (alert.kind, alert.features, alert.detector) == ("data_drift", ["x3"], "cusum:mean_up")
    assert alerts[0].causation_id == events[1999].id  # closed by the window the detection fell in
    assert alerts[0].correlation_id == alerts[0].id  # an alert opens an incident: its own chain
    assert alert.details["detections"]["x3"]["row"] == 1617
    assert alert.report_url == f"evidently/{alerts[0].id}.html"
    cleared = [e for e in out if isinstance(e, AlertCleared)][0]
    assert cleared.data.alert_id == alerts[0].id and cleared.causation_id == events[4499].id
    window = [e for e in out if isinstance(e, DriftReported)][3]
    assert window.data.report_url == alert.report_url and window.data.share_drifted == 1 / 6


def test_same_events_give_the_same_ids_and_resume_from_saved_state():
    events = predictions(stream(3, 3000), shift_rows=range(1000, 3000))
    whole = run(DriftMonitor(profile(), CONFIG), events)
    first = DriftMonitor(profile(), CONFIG)
    part = run(first, events[:1250])
    saved = json.loads(json.dumps(first.state_dict()))
    second = DriftMonitor(profile(), CONFIG)
    assert second.load_state(saved)
    part += run(second, events[1250:])
    assert [e.id for e in part] == [e.id for e in whole]
    assert kinds(whole) == ["AlertRaised"]


def test_error_jump_in_labels_raises_a_quality_alert():
    frame = stream(4, 3000)
    preds = predictions(frame)
    labels, joins = [], {}
    for i, p in enumerate(preds):
        joins[p.data.request_id] = p.data.predicted_class
        wrong = (i >= 2000 and i % 3 == 0) or i % 50 == 0  # 2% errors, then about 35%
        label = (p.data.predicted_class + wrong) % 2
        labels.append(LabelReceived(source="test", subject="m", time=p.time,
                                    data=dict(request_id=p.data.request_id, model="m", label=label)))
    events = [e for pair in zip(preds, labels, strict=True) for e in pair]
    out = run(DriftMonitor(profile(), CONFIG), events, batch=500, joins=joins)
    alerts = [e.data for e in out if isinstance(e, AlertRaised)]
    assert [(a.kind, a.detector) for a in alerts] == [("quality_drift", "cusum:error_up")]
    assert 2000 <= alerts[0].details["detections"]["__error__"]["row"] <= 2100
    quality = [e.data.quality for e in out if isinstance(e, DriftReported)]
    # The 500th prediction closes the window before its label arrives.
    assert quality[0]["labelled"] == 499 and quality[0]["error_rate"] == 10 / 499
