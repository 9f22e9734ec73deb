"""The drift report: the window, the share of drifted features, a chart per drifted feature, the detectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consumers.reports import charts
from consumers.reports.audit_log import by_id, of_type
from schemas import Event
from schemas.monitoring import AlertRaised, DriftReported

MAX_FEATURE_CHARTS = 8


@dataclass(frozen=True)
class DriftSubject:
    report: DriftReported | None
    alerts: list[AlertRaised]
    chosen_id: str = ""  # the event the report was asked for (or defaulted to)

    @property
    def model_version(self) -> str | None:
        if self.report is not None:
            return self.report.data.model_version
        return next((a.data.model_version for a in self.alerts if a.data.model_version), None)

    @property
    def window(self):
        if self.report is not None:
            return self.report.data.window
        return next((a.data.window for a in self.alerts if a.data.window), None)


def resolve(events: Sequence[Event], ident: str | None) -> DriftSubject:
    """The DriftReported and the alerts one id names (a report's or an alert's id; None: the latest of either)."""
    reports = of_type(events, DriftReported)
    alerts = of_type(events, AlertRaised)
    if ident:
        chosen = by_id(events, ident)
    else:
        chosen = next((e for e in reversed(events) if isinstance(e, DriftReported | AlertRaised)), None)
    if not isinstance(chosen, DriftReported | AlertRaised):
        raise LookupError(f"no DriftReported or AlertRaised event with id {ident!r}" if ident else
                          "no DriftReported or AlertRaised event on the audit trail yet")
    if isinstance(chosen, DriftReported):
        end = chosen.data.window.end
        related = [a for a in alerts if a.data.model == chosen.data.model and a.data.window and a.data.window.end == end]
        return DriftSubject(chosen, related, chosen.id)
    alert = chosen
    same_model = [r for r in reports if r.data.model == alert.data.model]
    if alert.data.window is not None:
        exact = [r for r in same_model if r.data.window.end == alert.data.window.end]
        if exact:
            return DriftSubject(exact[-1], [alert], alert.id)
    before = [r for r in same_model if r.time <= alert.time]
    return DriftSubject(before[-1] if before else None, [alert], alert.id)


def drift_context(subject: DriftSubject, reference=None, current=None) -> dict:
    """The resolved events plus reference/current frames (pandas, optional) -> the template's context."""
    report, alerts = subject.report, subject.alerts
    rows = list(report.data.features) if report else []
    drifted = [f for f in rows if f.drifted]
    alerted = {name for a in alerts for name in a.data.features}
    sources = [f"{type(e).__name__} {e.id}" for e in ([report] if report else []) + alerts]
    figures = []
    if rows:
        figures.append({"title": "Statistic per feature against its threshold",
                        "src": charts.statistics([(f"{f.feature} ({f.statistic})", f.value, f.threshold, f.drifted)
                                                  for f in rows], "Drifted features in red"),
                        "sources": sources, "section": "statistics"})
    to_chart = [f.feature for f in sorted(drifted, key=lambda f: -(f.value / f.threshold if f.threshold else f.value))]
    to_chart += sorted(alerted - set(to_chart))
    shown = [name for name in to_chart if name != "__prediction__"][:MAX_FEATURE_CHARTS]
    for name in shown:
        if reference is None or name not in reference:
            continue
        cur = current[name].dropna() if current is not None and name in current else None
        stat = next((f for f in rows if f.feature == name), None)
        label = f"{stat.statistic} {stat.value:.3f} / {stat.threshold:.3f}" if stat else "alerted"
        figures.append({"title": f"{name}: reference against current", "half": True, "section": "features",
                        "src": charts.distributions(name, reference[name].dropna(), cur, f"{name} ({label})"),
                        "sources": sources + [f"MLflow reference of version {subject.model_version}"] +
                        (["PredictionMade events in the window"] if cur is not None else [])})
    detectors = sorted({f.detector for f in drifted} | {a.data.detector for a in alerts})
    share = report.data.share_drifted if report else None
    return {
        "kind": "drift", "title": f"Drift report: {(report or alerts[0]).data.model}",
        "report": report, "alerts": alerts, "window": subject.window, "model_version": subject.model_version,
        "rows": rows, "drifted": drifted, "share": share, "detectors": detectors, "figures": figures,
        "quality": dict(report.data.quality) if report else {}, "current_rows": 0 if current is None else len(current),
        "not_charted": [n for n in to_chart if n not in shown],
        "source_ids": [e.id for e in ([report] if report else []) + alerts],
    }
