"""Severity of an incident from magnitude, breadth, duration and label-confirmed quality loss."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from agent.policy import SEVERITIES, SeverityRules
from schemas.monitoring import Alert

# Alert kinds whose statistic is a quality metric (higher is better): crossing means falling below.
_QUALITY_KINDS = {"quality_drift"}


@dataclass(frozen=True)
class Assessment:
    severity: str
    points: int
    magnitude: float
    reasons: tuple[str, ...]


def magnitude(alert: Alert) -> float:
    """How far past its threshold the value is, as a ratio >= 1 whichever way the threshold was crossed."""
    value, threshold = abs(alert.value), abs(alert.threshold)
    if threshold == 0:
        return 1.0 if value == 0 else float("inf")
    ratio = value / threshold
    if alert.kind in _QUALITY_KINDS or ratio < 1:
        ratio = threshold / value if value else float("inf")
    return max(ratio, 1.0)


def label_confirmed(alert: Alert) -> bool:
    """A quality drop measured on events whose true label is known."""
    labelled = alert.window.labelled if alert.window else int(alert.details.get("labelled", 0) or 0)
    return alert.kind in _QUALITY_KINDS and labelled > 0


def _steps(value: float, steps: list) -> int:
    return sum(1 for step in steps if value >= step)


def assess(alert: Alert, duration: timedelta, rules: SeverityRules) -> Assessment:
    """Score an alert seen over `duration` (incident age, or its window span if longer)."""
    if alert.window:
        duration = max(duration, alert.window.end - alert.window.start)
    ratio = magnitude(alert)
    minutes = duration.total_seconds() / 60
    parts = [
        (_steps(ratio, rules.magnitude_ratio), f"{alert.statistic} {alert.value:.4g} is {ratio:.2f}x past its threshold {alert.threshold:.4g}"),
        (_steps(len(alert.features), rules.breadth_features), f"{len(alert.features)} feature(s) involved"),
        (_steps(minutes, rules.duration_minutes), f"seen for {minutes:.0f} minute(s)"),
    ]
    if label_confirmed(alert):
        parts.append((rules.label_confirmed_points, "true labels confirm the quality drop"))
    points = sum(p for p, _ in parts)
    severity = "low"
    for name in SEVERITIES:
        if points >= rules.bands[name]:
            severity = name
    return Assessment(severity, points, ratio, tuple(f"{text} (+{p})" for p, text in parts))
