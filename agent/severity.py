"""Severity from what an incident does to the model: the importance of what drifted, the shift it causes in the
predictions, the quality lost on current traffic (labels, or the estimate while they are late), and duration.

Pure: measured signals and the policy's rules in, a severity with its reasons out. The diagnoser re-scores an
open incident with this each time its evidence grows.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.policy import SEVERITIES, SeverityRules


@dataclass(frozen=True)
class Signals:
    """What is known about an incident now. None: not measured (e.g. no labels yet)."""

    drifted_importance: float = 0.0  # share of the champion's prediction sensitivity carried by drifted features
    prediction_shift: float = 0.0  # |share predicted positive now - on the reference|
    quality_drop: float | None = None  # F1 lost on labelled current traffic, beyond sampling error; None: too few labels
    labelled: int = 0
    estimated_drop: float | None = None  # F1 lost by the confidence-based estimate (no labels needed)
    estimate_invalid: bool = False  # realized quality left the estimate's interval: the relation itself changed
    minutes: float = 0.0  # since the incident opened
    magnitude: float = 1.0  # serving alerts: how far past its threshold, as a ratio >= 1

    def as_dict(self) -> dict[str, float]:
        out = {"drifted_importance": self.drifted_importance, "prediction_shift": self.prediction_shift,
               "labelled": float(self.labelled), "minutes": self.minutes}
        for name in ("quality_drop", "estimated_drop"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.estimate_invalid:
            out["estimate_invalid"] = 1.0
        if self.magnitude != 1.0:
            out["magnitude"] = self.magnitude
        return {k: round(v, 4) for k, v in out.items()}


@dataclass(frozen=True)
class Assessment:
    severity: str
    points: int
    reasons: tuple[str, ...]


def _steps(value: float, steps: list[float]) -> int:
    return sum(1 for step in steps if value >= step)


def assess(signals: Signals, rules: SeverityRules, family: str = "drift") -> Assessment:
    """Score the signals: each step a signal reaches adds points; the severity is the highest band reached."""
    s, parts = signals, []
    if family == "serving":
        parts.append((_steps(s.magnitude, rules.serving_magnitude), f"{s.magnitude:.1f}x past its threshold"))
    else:
        parts.append((_steps(s.drifted_importance, rules.drifted_importance),
                      f"drifted features carry {s.drifted_importance:.0%} of the model's sensitivity"))
        parts.append((_steps(s.prediction_shift, rules.prediction_shift),
                      f"positive predictions moved by {s.prediction_shift:.1%}"))
        if s.quality_drop is not None:
            parts.append((rules.quality_points * _steps(s.quality_drop, rules.quality_drop),
                          f"labels confirm F1 down {s.quality_drop:.3f} ({s.labelled} labelled)"))
        elif s.estimated_drop is not None:
            parts.append((rules.quality_points * _steps(s.estimated_drop, rules.quality_drop),
                          f"estimated F1 down {s.estimated_drop:.3f} before labels"))
        if s.estimate_invalid:
            parts.append((rules.estimate_invalid_points, "realized quality left the estimate's interval"))
    parts.append((_steps(s.minutes, rules.duration_minutes), f"open for {s.minutes:.0f} minute(s)"))
    points = sum(p for p, _ in parts)
    severity = "low"
    for name in SEVERITIES:
        if points >= rules.bands[name]:
            severity = name
    return Assessment(severity, points, tuple(f"{text} (+{p})" for p, text in parts if p))
