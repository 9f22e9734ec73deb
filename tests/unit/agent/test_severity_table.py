"""The diagnoser's decisions on a fixed set of alerts, pinned (default policy)."""

from __future__ import annotations

import pytest

from agent.diagnoser import diagnose
from agent.policy import load_policy
from tests.unit.agent.alerts import alert

POLICY = load_policy()
MANY = ("a", "b", "c", "d", "e", "f")

# (name, alert, issue, severity, proposed action kinds)
TABLE = [
    ("small drift, one feature", alert(value=0.25), "data_drift", "low", ["log_error", "send_alert"]),
    ("drift 2.25x on three features", alert(value=0.45, features=MANY[:3]), "data_drift", "medium",
     ["send_alert", "retrain_model"]),
    ("drift 2.5x on four features", alert(value=0.5, features=MANY[:4]), "data_drift", "high",
     ["send_alert", "rollback_model"]),
    ("huge, broad, long drift", alert(value=1.0, features=MANY, minutes=90), "data_drift", "critical",
     ["send_alert", "rollback_model"]),
    ("quality drop confirmed by labels", alert(kind="quality_drift", statistic="f1", value=0.80, threshold=0.90,
     features=(), labelled=200), "concept_drift", "medium", ["send_alert", "retrain_model"]),
    ("quality drop without labels", alert(kind="quality_drift", statistic="f1", value=0.80, threshold=0.90,
     features=()), "concept_drift", "low", ["log_error", "send_alert"]),
    ("deep labelled quality drop for 20 min", alert(kind="quality_drift", statistic="f1", value=0.5, threshold=0.9,
     features=(), labelled=300, minutes=20), "concept_drift", "high", ["send_alert", "rollback_model"]),
    ("slightly slow serving", alert(kind="latency", statistic="p99_ms", value=300, threshold=250, features=()),
     "serving", "low", ["scale_service"]),
    ("error rate 4x", alert(kind="error_rate", statistic="error_rate", value=0.2, threshold=0.05, features=()),
     "serving", "medium", ["scale_service", "send_alert"]),
    ("prediction drift", alert(kind="prediction_drift", value=0.3, features=("__prediction__",)),
     "prediction_drift", "low", ["log_error", "send_alert"]),
    ("nulls in two features", alert(kind="data_quality", statistic="null_rate", value=0.1, threshold=0.05,
     features=MANY[:2]), "data_quality", "medium", ["log_error", "send_alert"]),
    ("external alert naming serving", alert(kind="external", statistic="up", value=0, threshold=1, features=(),
     labels={"issue": "serving"}), "serving", "medium", ["scale_service", "send_alert"]),
    ("external alert, unknown cause", alert(kind="external", statistic="x", value=1.2, threshold=1, features=()),
     "unknown", "low", ["log_error", "send_alert"]),
]


@pytest.mark.parametrize(("name", "raised", "issue", "severity", "kinds"), TABLE, ids=[t[0] for t in TABLE])
def test_pinned_decision(name, raised, issue, severity, kinds):
    made = diagnose(raised, POLICY)
    d = made.data
    assert (d.issue, d.severity, [p.kind for p in d.proposed_actions]) == (issue, severity, kinds)
    # the incident is the alert: everything after carries its id
    assert made.correlation_id == d.incident_id == raised.id and made.causation_id == raised.id
    assert d.evidence[0].metric == raised.data.statistic and d.evidence[0].report_url == raised.data.report_url
    assert f"Severity {severity}" in d.reasoning


def test_diagnosis_id_is_deterministic():
    raised = alert()
    assert diagnose(raised, POLICY).id == diagnose(raised, POLICY).id
