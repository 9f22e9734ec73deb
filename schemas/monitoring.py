"""Monitoring family: per-window drift reports and the alerts monitors raise and clear."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.envelope import Event, Payload

DRIFT_REPORT = "driftline.monitoring.drift_report"
ALERT_RAISED = "driftline.alert.raised"
ALERT_CLEARED = "driftline.alert.cleared"

AlertKind = Literal[
    "data_drift",
    "prediction_drift",
    "quality_drift",
    "latency",
    "error_rate",
    "data_quality",
    "consumer_lag",
    "external",
    "estimated_quality",
    "concept_drift",
]


class Window(Payload):
    start: datetime = Field(description="Time of the first event in the window.")
    end: datetime = Field(description="Time of the last event in the window.")
    events: int = Field(description="Events in the window.")
    labelled: int = Field(0, description="Events in the window whose true label is known.")


class FeatureDrift(Payload):
    feature: str = Field(description="Feature name, or __prediction__ for the prediction distribution.")
    statistic: str = Field(description="Statistic name: psi, wasserstein, chi2, adwin...")
    value: float = Field(description="Statistic value over the window.")
    threshold: float = Field(description="Threshold the value is compared with.")
    drifted: bool = Field(description="Whether the feature counts as drifted in this window.")
    detector: str = Field(description="Detector that produced the verdict.")


class Distribution(Payload):
    edges: list[float] = Field(default_factory=list, description="Bin edges of a numeric feature (one more than the "
                                                                 "shares; the end bins also hold the values beyond).")
    categories: list[str] = Field(default_factory=list, description="Categories of a categorical feature, in the "
                                                                    "order of the shares (the rest as 'other').")
    reference: list[float] = Field(description="Share of the reference rows in each bin or category.")
    window: list[float] = Field(description="Share of the window's rows in each bin or category.")


class MetricEstimate(Payload):
    value: float = Field(description="Estimate: the metric's expected value when the true labels are drawn from the "
                                     "model's calibrated probabilities.")
    lower: float = Field(description="Lower end of the interval: label sampling and calibration error together.")
    upper: float = Field(description="Upper end of the interval.")


class QualityEstimate(Payload):
    method: Literal["cbpe"] = Field("cbpe", description="Confidence-based performance estimation: metrics from "
                                                        "calibrated probabilities alone, before any label.")
    confidence: float = Field(0.95, description="Coverage each interval aims at.")
    rows: int = Field(description="Predictions the estimate covers: the window's.")
    estimated: dict[str, MetricEstimate] = Field(
        description="Metric (accuracy, f1, roc_auc; accuracy only for more than two classes) -> estimate with bounds, "
                    "from the window's probabilities.")
    reference: dict[str, float] = Field(default_factory=dict, description="The same estimate on the champion's "
                                                                          "hold-out data: what no change looks like.")
    reference_realized: dict[str, float] = Field(default_factory=dict,
                                                 description="The champion's metrics on its labelled hold-out data.")
    calibrated: bool = Field(description="Whether the trainer calibrated the champion's probabilities (recorded its "
                                         "calibration error); an uncalibrated model's estimate may be biased.")
    labelled: int = Field(0, description="Labelled rows the check used: labels that arrived in this window, for "
                                         "predictions of this or an earlier window.")
    realized: dict[str, float] = Field(default_factory=dict,
                                       description="Metric -> its value on those labelled rows.")
    expected: dict[str, MetricEstimate] = Field(
        default_factory=dict, description="Metric -> the estimate for those same labelled rows: where their realized "
                                          "value should fall.")
    estimate_valid: bool | None = Field(
        None, description="False when a realized metric falls outside its expected band beyond sampling and "
                          "calibration error: evidence of concept drift (or of a model extrapolating far beyond its "
                          "training data). None when too few labelled rows to judge.")
    estimate_reason: str = Field("", description="Why the estimate is (in)valid or not judged, with the figures.")


class FeatureImpact(Payload):
    feature: str = Field(description="Feature name, as in the training data.")
    importance: float = Field(description="Share of the champion's prediction sensitivity this feature carries "
                                          "(permutation on the reference; all features sum to 1).")
    shift: float = Field(description="How far the window moved from the reference: mean shift in reference standard "
                                     "deviations (numeric), total variation distance (categorical).")
    effect: float = Field(description="Change in the mean predicted positive probability when the reference takes "
                                      "this feature's window values, all else equal.")
    flip_rate: float = Field(0.0, description="Share of reference rows whose predicted class changes that way.")
    reference_mean: float | None = Field(None, description="Reference mean (numeric features).")
    window_mean: float | None = Field(None, description="Window mean (numeric features).")
    distribution: Distribution | None = Field(None, description="Reference against window on shared bins, for a "
                                                                "person to see what changed.")


class WindowImpact(Payload):
    positive_class: str | None = Field(None, description="The class whose predicted share is followed.")
    reference_positive_rate: float | None = Field(None, description="Share predicted positive on the reference.")
    positive_rate: float | None = Field(None, description="Share predicted positive in the window.")
    features: list[FeatureImpact] = Field(default_factory=list,
                                          description="The drifted features (strongest effect first).")


class DriftWindowReport(Payload):
    model: str = Field(description="Registered model name.")
    model_version: str = Field(description="Champion version the window was served by.")
    window: Window = Field(description="The window the report covers.")
    features: list[FeatureDrift] = Field(description="Per-feature statistics.")
    share_drifted: float = Field(description="Share of features flagged as drifted.")
    quality: dict[str, float] = Field(
        default_factory=dict, description="Quality metrics over labelled events; with an estimate, also its figures "
                                          "flat: estimated_<metric> (with _lower, _upper), reference_<metric> (the "
                                          "champion on its hold-out data) and estimate_valid (1 or 0, once judged).")
    report_url: str | None = Field(None, description="Evidently HTML report for the window, if one was made.")
    estimate: QualityEstimate | None = Field(
        None, description="Estimated performance from the window's calibrated probabilities, with realized values "
                          "once labels arrive; None when the champion's probabilities cannot be scored.")
    impact: WindowImpact | None = Field(None, description="What the drift does to the champion's predictions.")


class DriftReported(Event):
    """A monitor closed a window and summarised its statistics."""

    topic: ClassVar[str] = DRIFT_REPORT
    type: Literal["driftline.monitoring.drift_report.v1"] = "driftline.monitoring.drift_report.v1"
    data: DriftWindowReport


class Alert(Payload):
    kind: AlertKind = Field(description="What kind of condition was seen.")
    model: str = Field(description="Registered model name the alert is about.")
    model_version: str | None = Field(None, description="Champion version at the time, if known.")
    fingerprint: str = Field(description="Identity of the condition; one condition raises one alert until it clears.")
    features: list[str] = Field(default_factory=list, description="Features involved.")
    statistic: str = Field(description="Statistic that crossed its threshold.")
    value: float = Field(description="Its value.")
    threshold: float = Field(description="The threshold it crossed.")
    window: Window | None = Field(None, description="The window it was seen in.")
    detector: str = Field(description="Detector or rule that fired.")
    report_url: str | None = Field(None, description="Link to the evidence report.")
    summary: str = Field("", description="One sentence a person can read.")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels, e.g. from Alertmanager.")
    details: dict[str, Any] = Field(default_factory=dict, description="Detector-specific evidence.")


class AlertRaised(Event):
    """A monitor saw a metric cross its threshold."""

    topic: ClassVar[str] = ALERT_RAISED
    type: Literal["driftline.alert.raised.v1"] = "driftline.alert.raised.v1"
    data: Alert


class AlertClear(Payload):
    kind: AlertKind = Field(description="Kind of the alert that cleared.")
    model: str = Field(description="Registered model name.")
    fingerprint: str = Field(description="Fingerprint of the alert that cleared.")
    alert_id: str | None = Field(None, description="Id of the AlertRaised event that cleared.")
    summary: str = Field("", description="Why it cleared.")
    reason: Literal["quiet", "model_replaced"] = Field(
        "quiet", description="quiet: the monitor saw the condition end (several quiet windows); model_replaced: "
                             "another version serves now, so this version's alerts are retired, not resolved.")


class AlertCleared(Event):
    """A condition that raised an alert is no longer present."""

    topic: ClassVar[str] = ALERT_CLEARED
    type: Literal["driftline.alert.cleared.v1"] = "driftline.alert.cleared.v1"
    data: AlertClear
