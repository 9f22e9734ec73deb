"""Closing a window: the drift report event, and the alerts (or clears) its detections call for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from consumers.monitor.reference import PREDICTION
from schemas import Event
from schemas.monitoring import (
    Alert,
    AlertClear,
    AlertCleared,
    AlertRaised,
    DriftReported,
    DriftWindowReport,
    FeatureDrift,
)

if TYPE_CHECKING:
    from consumers.monitor.drift_monitor import DriftMonitor

SOURCE = "consumers/monitor"
KINDS = ("data_drift", "prediction_drift", "quality_drift")


@dataclass(frozen=True)
class ReportRequest:
    """An Evidently report to build off the alert path: the alert it belongs to and the window's rows."""

    alert_id: str
    path: str  # relative to the reports directory
    rows: list[dict]


WHAT = {"data_drift": "Data drift", "prediction_drift": "Prediction drift", "quality_drift": "Model quality drift"}


def quality(monitor: DriftMonitor) -> dict[str, float]:
    w = monitor.window
    out = {"labelled": float(w.labelled), "reference_error_rate": monitor.error_p0}
    if w.labelled:
        out.update(error_rate=w.errors / w.labelled, accuracy=1 - w.errors / w.labelled)
    return out


def window_report(monitor: DriftMonitor, cause: Event, report_url: str | None) -> DriftReported:
    """The summary of one closed window: every column's CUSUM level and histogram statistics."""
    detected = {**monitor.window.detections.get("data_drift", {}), **monitor.window.detections.get("prediction_drift", {})}
    levels = monitor.bank.statistic()
    features = []
    for column in monitor.profile.columns:
        hit = detected.get(column)
        value = hit["value"] / monitor.bank.threshold if hit else levels.get(column, 0.0)
        test = hit["test"] if hit else "level"
        # model_construct: the values are ours and typed already; validating ~100 of them per window costs more
        # than scoring the window.
        features.append(FeatureDrift.model_construct(feature=column, statistic="cusum", value=float(value),
                                                     threshold=1.0, drifted=hit is not None, detector=f"cusum:{test}"))
    for stat in monitor.hist.statistics():
        features.append(FeatureDrift.model_construct(feature=stat.column, statistic=stat.statistic, value=stat.value,
                                                     threshold=stat.threshold, drifted=stat.drifted,
                                                     detector="histogram"))
    names = monitor.profile.features
    share = sum(1 for f in names if f in detected) / max(len(names), 1)
    data = DriftWindowReport(model=monitor.profile.model, model_version=monitor.profile.version,
                             window=monitor.window.as_window(), features=features, share_drifted=share,
                             quality=quality(monitor), report_url=report_url)
    return cause.caused(DriftReported, source=SOURCE, subject=monitor.profile.model, key="window", data=data)


def alert_events(monitor: DriftMonitor, cause: Event) -> tuple[list[Event], list[ReportRequest]]:
    """Step the hysteresis of each kind with this window's detections; raise or clear as it says."""
    model, events, reports = monitor.profile.model, [], []
    for kind in KINDS:
        found = monitor.window.detections.get(kind, {})
        fingerprint = f"{kind}:{model}"
        action = monitor.hysteresis.step(fingerprint, sorted(found))
        if action == "raise":
            ranked = sorted(found.items(), key=lambda kv: -kv[1]["value"])
            features = [c for c, _ in ranked if c != "__error__"]
            top_col, top = ranked[0]
            url = f"evidently/{_alert_id(cause, fingerprint)}.html"
            named = ", ".join(f for f in features if f != PREDICTION) or "the predictions"
            summary = (f"{WHAT[kind]} on {model} v{monitor.profile.version}: "
                       + (named if kind != "quality_drift" else "error rate above the reference")
                       + f" (CUSUM {top['test']} crossed {monitor.bank.threshold:.1f}).")
            data = Alert(kind=kind, model=model, model_version=monitor.profile.version, fingerprint=fingerprint,
                         features=[f for f in features if f != PREDICTION] if kind == "data_drift" else features,
                         statistic="cusum_llr", value=top["value"], threshold=_limit(monitor, kind),
                         window=monitor.window.as_window(), detector=f"cusum:{top['test']}", report_url=url,
                         summary=summary, details={"detections": found, "quality": quality(monitor),
                                                   "false_alarms_per_10k": monitor.config.false_alarms_per_10k,
                                                   "first_column": top_col})
            events.append(_raised(cause, fingerprint, data))
            monitor.hysteresis.opened(fingerprint, events[-1].id, features)
            reports.append(ReportRequest(events[-1].id, url, list(monitor.rows)))
        elif action == "clear":
            gone = monitor.hysteresis.closed(fingerprint)
            events.append(cause.caused(
                AlertCleared, source=SOURCE, subject=model, key=f"clear:{fingerprint}",
                data=AlertClear(kind=kind, model=model, fingerprint=fingerprint, alert_id=gone.alert_id,
                                summary=f"No {kind.replace('_', ' ')} for {monitor.config.clear_after} windows.")))
    return events, reports


def _limit(monitor: DriftMonitor, kind: str) -> float:
    return monitor.errors.threshold if kind == "quality_drift" else monitor.bank.threshold


def _alert_id(cause: Event, fingerprint: str) -> str:
    from schemas.envelope import derived_id

    return derived_id(cause.id, AlertRaised.type_name(), f"alert:{fingerprint}")


def _raised(cause: Event, fingerprint: str, data: Alert) -> AlertRaised:
    """An alert opens an incident, so it starts its own chain: its correlation id is its own id (the event
    that closed the window stays its causation)."""
    return cause.caused(AlertRaised, source=SOURCE, subject=data.model, key=f"alert:{fingerprint}", data=data,
                        correlation_id=_alert_id(cause, fingerprint))
