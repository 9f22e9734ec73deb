"""One realistic incident and deployment as events, with numbers the tests look for in the PDFs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.action import ActionCompleted, ActionScheduled, ActionStarted
from schemas.agent import DiagnosisMade
from schemas.approval import ApprovalDecided, ApprovalRequested
from schemas.data import DataValidated
from schemas.model import ModelPromoted, ModelTrained
from schemas.monitoring import AlertRaised, DriftReported

MODEL = "driftline-classifier"
CANDIDATES = {
    "logistic_regression": {"accuracy": 0.9650, "precision": 0.9667, "recall": 0.9775, "f1": 0.9721, "roc_auc": 0.9960},
    "random_forest": {"accuracy": 0.9580, "precision": 0.9560, "recall": 0.9775, "f1": 0.9667, "roc_auc": 0.9931},
    "xgboost": {"accuracy": 0.9510, "precision": 0.9556, "recall": 0.9663, "f1": 0.9609, "roc_auc": 0.9902},
    "lightgbm": {"accuracy": 0.9441, "precision": 0.9551, "recall": 0.9551, "f1": 0.9551, "roc_auc": 0.9897},
}
DRIFT = [  # feature, psi, threshold, drifted
    ("mean radius", 0.4817, 0.2, True), ("mean texture", 0.3312, 0.2, True), ("mean area", 0.0412, 0.2, False),
    ("worst radius", 0.2209, 0.2, True), ("mean smoothness", 0.0125, 0.2, False),
]


def story(version: str = "1", previous: str | None = None, now: datetime | None = None,
          window_start: datetime | None = None, window_end: datetime | None = None) -> dict:
    """Every event of a deployment and one incident, keyed by role; the incident shares the alert's correlation."""
    now = now or datetime.now(UTC)
    start = window_start or now - timedelta(minutes=10)
    end = window_end or now - timedelta(minutes=1)
    validated = DataValidated(source="trainer", subject=MODEL, data=dict(
        dataset="builtin:breast_cancer", content_hash="9f2c" * 16, rows=569, columns=["mean radius", "target"],
        target="target", summary={"null_rate_max": 0.0, "minority_share": 0.3726}))
    trained = validated.caused(ModelTrained, source="trainer", data=dict(
        model=MODEL, version=version, parent_run_id="parent-run-0001", best_family="logistic_regression",
        selection_metric="f1", dataset="builtin:breast_cancer", dataset_hash="9f2c" * 16, split_seed=42,
        candidates=[dict(family=f, run_id=f"run-{f}", metrics=m) for f, m in CANDIDATES.items()]))
    promoted = trained.caused(ModelPromoted, source="trainer", data=dict(
        model=MODEL, version=version, previous_version=previous, reason="f1 0.9721 beats the champion's 0.9512",
        metric="f1", challenger_metrics=CANDIDATES["logistic_regression"],
        champion_metrics={"accuracy": 0.9371, "precision": 0.9432, "recall": 0.9551, "f1": 0.9512,
                          "roc_auc": 0.9844}))
    window = dict(start=start, end=end, events=1200, labelled=300)
    report = DriftReported(source="consumers/monitor", subject=MODEL, data=dict(
        model=MODEL, model_version=version, window=window, share_drifted=0.6, quality={"accuracy": 0.8833},
        features=[dict(feature=f, statistic="psi", value=v, threshold=t, drifted=d, detector="psi")
                  for f, v, t, d in DRIFT], report_url="drift/window-1.html"))
    alert = report.caused(AlertRaised, source="consumers/monitor", data=dict(
        kind="data_drift", model=MODEL, model_version=version, fingerprint="data_drift:mean radius",
        features=["mean radius", "mean texture", "worst radius"], statistic="share_drifted", value=0.6,
        threshold=0.3, window=window, detector="psi", summary="3 of 5 features drifted (share 0.6000)."))
    diagnosis = alert.caused(DiagnosisMade, source="agent/diagnoser", data=dict(
        incident_id=alert.correlation_id, model=MODEL, issue="data_drift", severity="medium",
        reasoning="Input distributions moved; quality fell to 0.8833.", features=["mean radius"],
        evidence=[dict(metric="psi", value=0.4817, threshold=0.2, alert_id=alert.id)],
        proposed_actions=[dict(kind="retrain_model", reason="drift")], alert_ids=[alert.id]))
    spec = dict(action_id="act-retrain-0001", kind="retrain_model", model=MODEL, tier="one_approver", reason="drift")
    request = diagnosis.caused(ApprovalRequested, source="agent/gate", data=dict(
        approval_id="appr-0001", action=spec, action_hash="ab" * 32, requested_by="agent",
        summary="Retrain on recent data.", expires_at=now + timedelta(hours=1), predicted_impact="f1 back above 0.95"))
    decided = request.caused(ApprovalDecided, source="ui", data=dict(
        approval_id="appr-0001", decision="approve", decided_by="alice", action_hash="ab" * 32,
        comment="Drift confirmed on the dashboard; retrain.", via="web"))
    scheduled = decided.caused(ActionScheduled, source="agent/gate", data=dict(action=spec, approved_by="alice",
                                                                                approval_id="appr-0001"))
    started = scheduled.caused(ActionStarted, source="agent/executor", data=dict(
        action_id="act-retrain-0001", kind="retrain_model", model=MODEL))
    completed = started.caused(ActionCompleted, source="agent/executor", data=dict(
        action_id="act-retrain-0001", kind="retrain_model", model=MODEL, result={"version": "3"},
        metrics_before={"accuracy": 0.8833, "f1": 0.8712}, metrics_after={"accuracy": 0.9561, "f1": 0.9634},
        summary="Retrained; version 3 is champion."))
    return dict(validated=validated, trained=trained, promoted=promoted, report=report, alert=alert,
                diagnosis=diagnosis, request=request, decided=decided, scheduled=scheduled, started=started,
                completed=completed)
