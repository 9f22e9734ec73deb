"""Window reports and evidence for the agent's unit tests: what the monitor would say, with pinned numbers."""

from __future__ import annotations

from datetime import timedelta

from agent.evidence import Evidence
from schemas import DriftReported
from schemas.monitoring import DriftWindowReport
from tests.unit.agent.alerts import T0


def report(*, version: str = "1", drifted: dict[str, tuple[float, float, float]] | None = None,
           positive_rate: float = 0.62, reference_rate: float = 0.62, counts: tuple[int, int, int, int] = (0, 0, 0, 0),
           reference_f1: float = 0.96, estimated_f1: float | None = None, estimate_valid: bool = True,
           events: int = 1000, minutes: int = 0, model: str = "driftline-classifier") -> DriftWindowReport:
    """One closed window. drifted: feature -> (importance, shift in sd, effect on the positive probability)."""
    drifted = drifted or {}
    tp, fp, fn, tn = counts
    quality = {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "labelled": tp + fp + fn + tn, "reference_f1": reference_f1,
               "reference_accuracy": 0.95}
    if estimated_f1 is not None:
        quality.update(estimated_f1=estimated_f1, estimate_valid=1.0 if estimate_valid else 0.0)
    start = T0 + timedelta(minutes=minutes)
    return DriftWindowReport(
        model=model, model_version=version,
        window={"start": start, "end": start + timedelta(minutes=1), "events": events, "labelled": tp + fp + fn + tn},
        features=[{"feature": f, "statistic": "cusum", "value": 2.0, "threshold": 1.0, "drifted": True,
                   "detector": "cusum:mean"} for f in drifted],
        share_drifted=len(drifted) / 30, quality=quality,
        impact={"positive_class": "1", "reference_positive_rate": reference_rate, "positive_rate": positive_rate,
                "features": [{"feature": f, "importance": imp, "shift": shift, "effect": eff, "flip_rate": abs(eff),
                              "reference_mean": 14.1, "window_mean": 14.1 + shift * 3.5}
                             for f, (imp, shift, eff) in drifted.items()]})


def evidence(*reports: DriftWindowReport) -> Evidence:
    e = Evidence(version=reports[0].model_version if reports else None)
    for r in reports:
        e.add_report(r)
    return e


IMPORTANT = {"worst radius": (0.30, 2.1, 0.21), "mean concave points": (0.20, 1.5, 0.12)}


def window_event(r: DriftWindowReport) -> DriftReported:
    """The report as the monitor publishes it, timed at its window's end."""
    return DriftReported(source="consumers/monitor", subject=r.model, time=r.window.end, data=r)


def harmful_window(model: str = "driftline-classifier", minutes: int = -1) -> DriftReported:
    """A window in which important features drift and move the predictions: the diagnoser scores it medium."""
    return window_event(report(drifted=IMPORTANT, positive_rate=0.72, model=model, minutes=minutes))
