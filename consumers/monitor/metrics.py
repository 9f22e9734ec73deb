"""Prometheus gauges of the monitor: per-feature statistics, share drifted, window quality, detector state, lag."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

FEATURE_DRIFT = Gauge("driftline_monitor_feature_drift", "Last closed window's drift statistic per feature.",
                      ["model", "feature", "statistic"])
SHARE_DRIFTED = Gauge("driftline_monitor_share_drifted", "Share of features flagged in the last closed window.", ["model"])
WINDOW_QUALITY = Gauge("driftline_monitor_window_quality", "Quality metrics over the last window's labelled events.",
                       ["model", "metric"])
DETECTOR_LEVEL = Gauge("driftline_monitor_detector_level",
                       "Each column's CUSUM statistic as a share of its threshold (1 = alarm).", ["model", "column"])
ALERT_OPEN = Gauge("driftline_monitor_alert_open", "1 while an alert of this kind is open (hysteresis state).",
                   ["model", "kind"])
STATE_BYTES = Gauge("driftline_monitor_state_bytes", "Bytes of detector state kept for the model.", ["model"])
EVENTS = Counter("driftline_monitor_events_total", "Events the monitor scored.", ["model", "kind"])
UNJOINED_LABELS = Counter("driftline_monitor_unjoined_labels_total", "Labels whose prediction the monitor never saw.",
                          ["model"])
STALE_LABELS = Counter("driftline_monitor_stale_labels_total", "Labels of predictions another (earlier) champion "
                       "version served: not scored against the current one.", ["model"])
ESTIMATED_QUALITY = Gauge(
    "driftline_monitor_estimated_quality",
    "Last closed window's estimated quality from calibrated probabilities (bound: value, lower, upper), and the same "
    "estimate on the champion's hold-out data (bound: reference).", ["model", "metric", "bound"])
REALIZED_QUALITY = Gauge("driftline_monitor_realized_quality",
                         "Quality on the labelled rows of the last window that had labels (metric: accuracy, f1, "
                         "roc_auc).", ["model", "metric"])
ESTIMATE_VALID = Gauge("driftline_monitor_estimate_valid",
                       "1 while the realized quality agrees with the estimate, 0 once it does not (concept drift); "
                       "set by windows with enough labels.", ["model"])
ALERTS = Counter("driftline_monitor_alerts_total", "Alerts raised and cleared by the monitor.", ["model", "kind", "action"])


def observe_report(report) -> None:
    """Set the gauges from a DriftReported event."""
    data = report.data
    for f in data.features:
        FEATURE_DRIFT.labels(data.model, f.feature, f.statistic).set(f.value)
    SHARE_DRIFTED.labels(data.model).set(data.share_drifted)
    for name, value in data.quality.items():
        WINDOW_QUALITY.labels(data.model, name).set(value)
    if data.estimate is not None:
        observe_estimate(data.model, data.estimate)


def observe_estimate(model: str, estimate) -> None:
    for metric, e in estimate.estimated.items():
        for bound in ("value", "lower", "upper"):
            ESTIMATED_QUALITY.labels(model, metric, bound).set(getattr(e, bound))
    for metric, value in estimate.reference.items():
        ESTIMATED_QUALITY.labels(model, metric, "reference").set(value)
    for metric, value in estimate.realized.items():
        REALIZED_QUALITY.labels(model, metric).set(value)
    if estimate.estimate_valid is not None:
        ESTIMATE_VALID.labels(model).set(1 if estimate.estimate_valid else 0)


def observe_monitor(monitor) -> None:
    model = monitor.profile.model
    for column, level in monitor.bank.statistic().items():
        DETECTOR_LEVEL.labels(model, column).set(level)
    DETECTOR_LEVEL.labels(model, "__error__").set(float(monitor.errors.state[0]) / monitor.errors.threshold)
    from consumers.monitor.window_report import KINDS

    for kind in KINDS:
        ALERT_OPEN.labels(model, kind).set(1 if f"{kind}:{model}" in monitor.hysteresis.open else 0)
    STATE_BYTES.labels(model).set(monitor.bank.state_bytes() + monitor.hist.state_bytes() + 16)


SHADOW_TEST = Gauge("driftline_monitor_shadow_test",
                    "Each shadow test's latest figures (value: pairs, difference, lower, upper, statistic, threshold).",
                    ["model", "challenger_version", "champion_version", "value"])


def observe_shadow(model: str, points) -> None:
    """Set the shadow-test gauges from the tests this batch advanced."""
    for (challenger, champion), s in points:
        for name, key in (("pairs", "pairs"), ("difference", "difference"), ("lower", "difference_lower"),
                          ("upper", "difference_upper"), ("statistic", "statistic"), ("threshold", "threshold")):
            SHADOW_TEST.labels(model, challenger, champion, name).set(s[key])
