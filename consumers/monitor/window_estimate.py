"""The monitor's estimated performance: the champion's reference, each window's estimate and its check, and the
two conditions they raise: estimated_quality (the estimate fell) and concept_drift (the estimate stopped holding)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from consumers.monitor import estimation
from consumers.monitor.score_bins import ScoreBins
from consumers.monitor.windows import too_small
from schemas.monitoring import MetricEstimate, QualityEstimate

if TYPE_CHECKING:
    from typing import Any as DriftMonitor  # drift_monitor.DriftMonitor, which imports this module: by duck type

COLUMN = "__estimate__"  # the detections' column name


@dataclass(frozen=True)
class EstimationRef:
    """What the estimate of one champion needs: its classes, and its estimate and metrics on its hold-out data."""

    classes: tuple[str, ...]
    estimated: dict[str, float]
    realized: dict[str, float]
    calibration_sd: float
    calibrated: bool

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def watched(self) -> str:
        """The metric whose estimated fall raises an alert."""
        return "f1" if self.binary else "accuracy"

    def score(self, probabilities: dict[str, float]) -> float | None:
        """A prediction's score: the positive class's probability for two classes, else the top probability."""
        if self.binary:
            return probabilities.get(self.classes[1])
        return max(probabilities.values()) if probabilities else None

    def positive(self, label: object, predicted: object) -> bool:
        """A labelled row counts as positive (two classes) or as correct (more)."""
        return str(label) == (self.classes[1] if self.binary else str(predicted))


def reference_estimation(proba: np.ndarray, y_true, classes: list, calibration_rows: int,
                         calibrated: bool) -> EstimationRef:
    """The estimate and the realized metrics on labelled hold-out rows (probability columns in `classes` order)."""
    names = tuple(str(c) for c in classes)
    proba = np.asarray(proba, dtype=float)
    ref = EstimationRef(names, {}, {}, 0.0, calibrated)
    bins = ScoreBins()
    predicted = np.asarray(names, dtype=object)[proba.argmax(axis=1)]
    scores = proba[:, 1] if ref.binary else proba.max(axis=1)
    bins.add(scores, [ref.positive(y, p) for y, p in zip(np.asarray(y_true), predicted, strict=True)])
    realized = estimation.realized(bins, ref.binary)
    estimated = {m: i.value for m, i in estimation.estimate(bins, ref.binary).items()}
    sd = estimation.calibration_sd(realized.get("accuracy"), calibration_rows)
    return EstimationRef(names, estimated, realized, sd, calibrated)


def _interval(i: estimation.Interval) -> MetricEstimate:
    return MetricEstimate(value=i.value, lower=i.lower, upper=i.upper)


def close_window(monitor: DriftMonitor) -> QualityEstimate | None:
    """The closing window's estimate and check; adds their detections to the window (for the alerts)."""
    ref, scored, labelled = monitor.profile.estimation, monitor.scored, monitor.labelled
    if ref is None or (scored.n == 0 and labelled.n == 0):
        return None
    seed = monitor.bank.seen  # deterministic: a replayed window gives the same figures
    # A tail of a few predictions estimates nothing (it read F1 0.000 [-0.011, 0.011] on 1 prediction); the labels
    # that arrived in it are still checked.
    small = too_small(monitor.window, monitor.config.window)
    estimated = {} if small else estimation.estimate(scored, ref.binary, calibration_sd=ref.calibration_sd, seed=seed)
    validity = estimation.check(labelled, ref.binary, calibration_sd=ref.calibration_sd,
                                min_rows=monitor.config.estimate_min_labels, seed=seed + 1)
    watched = ref.watched
    if watched in estimated and watched in ref.estimated:
        drop = ref.estimated[watched] - estimated[watched].value
        if drop >= monitor.config.estimated_drop:
            e = estimated[watched]
            monitor.window.add_detection("estimated_quality", COLUMN, {
                "row": monitor.bank.seen, "test": "cbpe", "value": drop, "threshold": monitor.config.estimated_drop,
                "statistic": f"estimated_{watched}_drop", "detector": "cbpe",
                "summary": f"Estimated {watched} on {monitor.profile.model} v{monitor.profile.version} fell to "
                           f"{e.value:.3f} [{e.lower:.3f}, {e.upper:.3f}] from {ref.estimated[watched]:.3f} on the "
                           f"reference hold-out ({scored.n} predictions, before their labels)."})
    if validity.valid is False:
        deviation = max(abs(validity.realized[m] - validity.expected[m].value) / max(validity.expected[m].sd, 1e-12)
                        for m in validity.expected if m in validity.realized)
        # Features drifting now: a model far outside its training data also breaks the estimate; say which.
        drifting = sorted(set(monitor.window.detections.get("data_drift", {}))
                          | set(getattr(monitor.hysteresis.open.get(f"data_drift:{monitor.profile.model}"),
                                        "features", [])))
        monitor.window.add_detection("concept_drift", COLUMN, {
            "row": monitor.bank.seen, "test": "cbpe_check", "value": deviation,
            "threshold": _z(len(validity.expected)), "statistic": "estimate_deviation_sd", "detector": "cbpe_check",
            "drifted_features": drifting,
            "summary": f"Estimated quality of {monitor.profile.model} v{monitor.profile.version} no longer holds: "
                       f"{validity.reason}" + (f"; features drifting meanwhile: {', '.join(drifting)}."
                                               if drifting else "; no feature is drifting: the relation changed.")})
    return QualityEstimate(
        rows=scored.n, estimated={m: _interval(i) for m, i in estimated.items()}, reference=dict(ref.estimated),
        reference_realized=dict(ref.realized), calibrated=ref.calibrated, labelled=labelled.n,
        realized=validity.realized, expected={m: _interval(i) for m, i in validity.expected.items()},
        estimate_valid=validity.valid, estimate_reason=validity.reason)


def flat(estimate: QualityEstimate | None) -> dict[str, float]:
    """The estimate as flat quality figures, for readers of DriftWindowReport.quality: estimated_<metric> with
    _lower/_upper, reference_<metric> (realized on the hold-out data), estimate_valid (1 or 0, once judged)."""
    if estimate is None:
        return {}
    out = {}
    for metric, e in estimate.estimated.items():
        out.update({f"estimated_{metric}": e.value, f"estimated_{metric}_lower": e.lower,
                    f"estimated_{metric}_upper": e.upper})
    out.update({f"reference_{metric}": value for metric, value in estimate.reference_realized.items()})
    if estimate.estimate_valid is not None:
        out["estimate_valid"] = 1.0 if estimate.estimate_valid else 0.0
    return out


def _z(metrics: int) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - estimation.FALSE_RATE / (2 * max(metrics, 1))))
