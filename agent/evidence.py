"""What an incident has seen so far, accumulated from alerts and the monitor's window reports. Pure and JSON-able
(it lives in the incident's row between events)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.monitoring import DriftWindowReport

RECENT_WINDOWS = 3  # drifted features are those seen in any of the last few windows: CUSUM fires, then re-arms


@dataclass
class Counts:
    """A confusion matrix of labelled predictions (binary: positive is the model's positive class)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def f1(self) -> float | None:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None

    def accuracy(self) -> float | None:
        return (self.tp + self.tn) / self.n if self.n else None

    def f1_standard_error(self) -> float:
        """Sampling error of F1 (binomial on the rows F1 rests on: a conservative, cheap approximation)."""
        f1 = self.f1() or 0.0
        rows = max(self.tp + (self.fp + self.fn) / 2, 1.0)
        return math.sqrt(max(f1 * (1 - f1), 1e-6) / rows)

    def add(self, quality: dict[str, float]) -> None:
        for key in ("tp", "fp", "fn", "tn"):
            setattr(self, key, getattr(self, key) + int(quality.get(key, 0)))


@dataclass
class Evidence:
    """The measured state of one incident's model: drift, its effect on predictions, quality, and the estimate."""

    version: str | None = None  # the champion version the evidence was served by
    reference: dict[str, float] = field(default_factory=dict)  # f1/accuracy on the champion's own hold-out
    labels: Counts = field(default_factory=Counts)  # labelled predictions of `version` since the incident opened
    predictions: int = 0
    windows: int = 0
    drifted: list[list[str]] = field(default_factory=list)  # drifted features of the last few windows
    impact: dict[str, Any] | None = None  # the latest window's WindowImpact
    estimated: dict[str, Any] | None = None  # the latest confidence-based estimate
    estimate_invalid: bool = False  # sticky: realized quality once left the estimate's interval
    window_events: int = 0
    importance: dict[str, float] = field(default_factory=dict)  # feature -> share of sensitivity, as reported

    def add_report(self, report: DriftWindowReport) -> None:
        """Fold one window report of this evidence's version in."""
        q = report.quality
        self.windows += 1
        self.predictions += report.window.events
        self.labels.add(q)
        for key, name in (("reference_f1", "f1"), ("reference_accuracy", "accuracy")):
            if key in q:
                self.reference[name] = q[key]
        drifted = [f.feature for f in report.features if f.drifted and f.feature != "__prediction__"]
        self.drifted = [*self.drifted, sorted(set(drifted))][-RECENT_WINDOWS:]
        if report.impact is not None:
            self.impact = report.impact.model_dump(mode="json")
            self.window_events = report.window.events  # the window the impact was measured on
            self.importance.update({f.feature: f.importance for f in report.impact.features})
        if "estimated_f1" in q:
            self.estimated = {k: v for k, v in q.items() if k.startswith("estimated_")}
        if q.get("estimate_valid") == 0.0:
            self.estimate_invalid = True

    @property
    def drifted_features(self) -> list[str]:
        return sorted({f for window in self.drifted for f in window})

    def quality_drop(self, min_labelled: int) -> float | None:
        """F1 lost against the reference, when enough labels show it beyond sampling error; else None."""
        f1, ref = self.labels.f1(), self.reference.get("f1")
        if f1 is None or ref is None or self.labels.n < min_labelled:
            return None
        drop = ref - f1
        return round(drop, 4) if drop > 2 * self.labels.f1_standard_error() else 0.0

    def estimated_drop(self) -> float | None:
        est, ref = (self.estimated or {}).get("estimated_f1"), self.reference.get("f1")
        return None if est is None or ref is None else round(max(ref - est, 0.0), 4)

    def prediction_shift(self) -> float:
        i = self.impact or {}
        if i.get("positive_rate") is None or i.get("reference_positive_rate") is None:
            return 0.0
        return round(abs(i["positive_rate"] - i["reference_positive_rate"]), 4)

    def drifted_importance(self) -> float:
        return round(sum(self.importance.get(f, 0.0) for f in self.drifted_features), 4)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> Evidence:
        doc = dict(doc or {})
        doc["labels"] = Counts(**doc.get("labels", {}))
        return cls(**doc)
