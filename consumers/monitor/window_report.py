"""Closing a window: the drift report event, and the alerts (or clears) its detections call for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from consumers.monitor.alerts import Hysteresis
from consumers.monitor.detectors import CusumBank, ErrorCusum
from consumers.monitor.histograms import WindowHistogram
from consumers.monitor.impact import window_impact
from consumers.monitor.reference import PREDICTION, Profile
from consumers.monitor.window_estimate import flat
from consumers.monitor.windows import WindowPolicy, WindowState, too_small
from schemas import Event
from schemas.monitoring import (
    Alert,
    AlertClear,
    AlertCleared,
    AlertRaised,
    DriftReported,
    DriftWindowReport,
    FeatureDrift,
    QualityEstimate,
    WindowImpact,
)

SOURCE = "consumers/monitor"
KINDS = ("data_drift", "prediction_drift", "quality_drift", "estimated_quality", "concept_drift")


@dataclass(frozen=True)
class ReportRequest:
    """An Evidently report to build off the alert path: the alert it belongs to and the window's rows."""

    alert_id: str
    path: str  # relative to the reports directory
    rows: list[dict]


class _Config(Protocol):
    false_alarms_per_10k: float
    clear_after: int
    window: WindowPolicy


class ClosingWindow(Protocol):
    """What closing a window reads of the monitor (drift_monitor.DriftMonitor is one); a protocol, so that this
    module and the monitor that calls it do not import each other."""

    profile: Profile
    config: _Config
    bank: CusumBank
    errors: ErrorCusum
    error_p0: float
    hist: WindowHistogram
    window: WindowState
    hysteresis: Hysteresis
    rows: list[dict]


WHAT = {"data_drift": "Data drift", "prediction_drift": "Prediction drift", "quality_drift": "Model quality drift",
        "estimated_quality": "Estimated quality drop", "concept_drift": "Concept drift"}


def quality(monitor: ClosingWindow) -> dict[str, float]:
    """The window's realized quality on its labelled rows (of the version the window serves), with its confusion
    counts, so that readers can add windows up (the diagnoser's evidence, a verification)."""
    w = monitor.window
    out = {"labelled": float(w.labelled), "reference_error_rate": monitor.error_p0}
    if w.labelled:
        out.update(error_rate=w.errors / w.labelled, accuracy=1 - w.errors / w.labelled)
    if monitor.profile.positive_class is not None:
        counts = {k: w.confusion.get(k, 0) for k in ("tp", "fp", "fn", "tn")}
        out.update({k: float(v) for k, v in counts.items()})
        denominator = 2 * counts["tp"] + counts["fp"] + counts["fn"]
        if denominator:
            out["f1"] = 2 * counts["tp"] / denominator
    return out


def window_report(monitor: ClosingWindow, cause: Event, report_url: str | None,
                  estimate: QualityEstimate | None = None) -> DriftReported:
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
        features.append(FeatureDrift.model_construct(feature=column, statistic=monitor.bank.statistic_name,
                                                     value=float(value), threshold=1.0, drifted=hit is not None,
                                                     detector=f"{monitor.bank.name}:{test}"))
    small = too_small(monitor.window, monitor.config.window)  # one row is "far" from every reference histogram
    for stat in monitor.hist.statistics():
        features.append(FeatureDrift.model_construct(feature=stat.column, statistic=stat.statistic, value=stat.value,
                                                     threshold=stat.threshold, drifted=stat.drifted and not small,
                                                     detector="histogram"))
    names = monitor.profile.features
    share = sum(1 for f in names if f in detected) / max(len(names), 1)
    data = DriftWindowReport(model=monitor.profile.model, model_version=monitor.profile.version,
                             window=monitor.window.as_window(), features=features, share_drifted=share,
                             quality={**quality(monitor), **flat(estimate)}, report_url=report_url,
                             estimate=estimate, impact=_impact(monitor, detected, features))
    return cause.caused(DriftReported, source=SOURCE, subject=monitor.profile.model, key="window", data=data)


MAX_EFFECTS = 8  # drifted features whose effect on the predictions is measured per window (~15 ms each here)


def _impact(monitor: ClosingWindow, detected: dict, features: list[FeatureDrift]) -> WindowImpact | None:
    """What the window's drift does to the champion, when the profile can tell (two classes, a model at hand)."""
    model, w = monitor.profile.impact, monitor.window
    if model is None or monitor.profile.positive_class is None or too_small(w, monitor.config.window):
        return None  # the agent and the page keep the last window that could tell
    strength: dict[str, float] = {}
    for f in features:  # CUSUM detections, then histogram flags: strongest first
        if f.feature != PREDICTION and (f.feature in detected or f.drifted):
            strength[f.feature] = max(strength.get(f.feature, 0.0), f.value / (f.threshold or 1.0))
    drifted = sorted(strength, key=lambda c: -strength[c])[:MAX_EFFECTS]
    rate = w.positives / w.events if w.events else None
    return window_impact(model, monitor.rows, drifted, rate, monitor.profile.positive_class)


def alert_events(monitor: ClosingWindow, cause: Event, estimate: QualityEstimate | None = None,
                 unjudged: set[str] = frozenset()) -> tuple[list[Event], list[ReportRequest]]:
    """Step the hysteresis of each kind with this window's detections (not of the `unjudged` kinds); raise or clear
    as it says. Every alert carries the window's estimated performance in its details."""
    model, events, reports = monitor.profile.model, [], []
    for kind in KINDS:
        if kind in unjudged:
            continue
        found = monitor.window.detections.get(kind, {})
        fingerprint = f"{kind}:{model}"
        action = monitor.hysteresis.step(fingerprint, sorted(found))
        if action == "raise":
            ranked = sorted(found.items(), key=lambda kv: -kv[1]["value"])
            features = [c for c, _ in ranked if c != "__error__"]
            top_col, top = ranked[0]
            url = f"evidently/{_alert_id(cause, fingerprint)}.html"
            named = ", ".join(f for f in features if f != PREDICTION) or "the predictions"
            # Which detector fired: the feature bank (CUSUM or a River detector), the error-rate CUSUM, or the
            # estimate (its detections carry their own statistic, threshold and words).
            on_errors = kind == "quality_drift"
            fired = "cusum" if on_errors else monitor.bank.name
            how = f"CUSUM {top['test']} crossed {monitor.errors.threshold:.1f}" if on_errors \
                else monitor.bank.describe(top["test"])
            summary = top.get("summary") or (
                f"{WHAT[kind]} on {model} v{monitor.profile.version}: "
                + (named if not on_errors else "error rate above the reference") + f" ({how}).")
            if kind in ("estimated_quality", "concept_drift"):
                features = []
            details = {"detections": found, "quality": quality(monitor),
                       "false_alarms_per_10k": monitor.config.false_alarms_per_10k, "first_column": top_col,
                       "detector": top.get("detector", fired)}
            if estimate is not None:
                details["estimate"] = estimate.model_dump(mode="json")
            data = Alert(kind=kind, model=model, model_version=monitor.profile.version, fingerprint=fingerprint,
                         features=[f for f in features if f != PREDICTION] if kind == "data_drift" else features,
                         statistic=top.get("statistic", "cusum_llr" if fired == "cusum" else monitor.bank.statistic_name),
                         value=top["value"], threshold=top.get("threshold", _limit(monitor, kind)),
                         window=monitor.window.as_window(), detector=top.get("detector", f"{fired}:{top['test']}"),
                         report_url=url, summary=summary, details=details)
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


def _limit(monitor: ClosingWindow, kind: str) -> float:
    return monitor.errors.threshold if kind == "quality_drift" else monitor.bank.threshold


def _alert_id(cause: Event, fingerprint: str) -> str:
    from schemas.envelope import derived_id

    return derived_id(cause.id, AlertRaised.type_name(), f"alert:{fingerprint}")


def _raised(cause: Event, fingerprint: str, data: Alert) -> AlertRaised:
    """An alert opens an incident, so it starts its own chain: its correlation id is its own id (the event
    that closed the window stays its causation)."""
    return cause.caused(AlertRaised, source=SOURCE, subject=data.model, key=f"alert:{fingerprint}", data=data,
                        correlation_id=_alert_id(cause, fingerprint))
