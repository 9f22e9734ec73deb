"""The diagnosis in plain words: what changed, how much, what it does to the model, what is proposed."""

from __future__ import annotations

from typing import Protocol

from agent.evidence import Evidence
from agent.severity import Assessment
from schemas.agent import ProposedAction


class Described(Protocol):
    """What the words read of an incident (incident_state.IncidentState is one); a protocol, so that the incident
    and its words do not import each other."""

    model: str
    family: str
    issue: str
    magnitude: float
    evidence: Evidence

_ACTIONS = {
    "retrain_model": "retrain on recent data", "rollback_model": "roll back to version {to_version}",
    "deploy_model": "deploy version {version}", "change_config": "change the configuration",
    "scale_service": "scale the {service} to {replicas}", "send_alert": "alert the team", "log_error": "log it",
    "clear_cache": "reload the champion everywhere",
}


def _action(p: ProposedAction) -> str:
    try:
        return _ACTIONS.get(p.kind, p.kind).format(**p.params)
    except KeyError:
        return p.kind.replace("_", " ")


def _moved(feature: dict, events: int) -> str:
    if feature.get("reference_mean") is None:
        return f"`{feature['feature']}` changed its mix of categories ({feature['shift']:.0%} of values moved)"
    if abs(feature["shift"]) < 0.05:  # its spread or shape changed, not its centre (a sensor stuck at its mean)
        return f"`{feature['feature']}` changed its spread, not its mean"
    direction = "up" if feature["shift"] >= 0 else "down"
    window = f" in the last {events:,} predictions" if events else ""
    return f"`{feature['feature']}` moved {direction} by {abs(feature['shift']):.1f} standard deviations{window}"


def headline(incident: Described, proposals: list[ProposedAction]) -> str:
    """One sentence, e.g. "`worst radius` moved up by 2.1 standard deviations in the last 1,000 predictions;
    predicted 1 rose from 37% to 61%; labels so far confirm a drop in F1 from 0.97 to 0.84; retrain on recent
    data is proposed"."""
    e, parts = incident.evidence, []
    impact = e.impact or {}
    features = impact.get("features") or []
    if features:
        parts.append(_moved(features[0], e.window_events)
                     + (f" (and {len(features) - 1} more feature{'s' if len(features) > 2 else ''})"
                        if len(features) > 1 else ""))
    elif e.drifted_features:
        parts.append(f"{', '.join(f'`{f}`' for f in e.drifted_features[:3])} drifted")
    ref_rate, rate = impact.get("reference_positive_rate"), impact.get("positive_rate")
    if ref_rate is not None and rate is not None and abs(rate - ref_rate) >= 0.01:
        verb = "rose" if rate > ref_rate else "fell"
        parts.append(f"predicted {impact.get('positive_class') or 'positive'} {verb} from {ref_rate:.0%} to {rate:.0%}")
    f1, ref_f1 = e.labels.f1(), e.reference.get("f1")
    if f1 is not None and ref_f1 is not None and e.labels.n:
        if ref_f1 - f1 > 2 * e.labels.f1_standard_error():
            parts.append(f"labels so far ({e.labels.n:,}) confirm a drop in F1 from {ref_f1:.2f} to {f1:.2f}")
        elif f1 < ref_f1:  # a lower figure the labels cannot yet tell from chance is not a confirmation
            parts.append(f"labels so far ({e.labels.n:,}) show F1 at {f1:.2f} against {ref_f1:.2f}, within sampling "
                         "error")
        else:
            parts.append(f"labels so far ({e.labels.n:,}) show no drop in F1 ({f1:.2f}; reference {ref_f1:.2f})")
    elif (e.estimated or {}).get("estimated_f1") is not None and ref_f1 is not None:
        parts.append(f"before any label, F1 is estimated at {e.estimated['estimated_f1']:.2f} (reference {ref_f1:.2f})")
    if incident.family == "serving":
        parts.append(f"the serving path is {incident.magnitude:.1f}x past its threshold")
    repairs = [_action(p) for p in proposals if p.kind not in ("log_error", "send_alert")]
    parts.append(f"{' and '.join(repairs)} {'is' if len(repairs) == 1 else 'are'} proposed" if repairs
                 else "the team is alerted; nothing else is proposed")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def reasoning(incident: Described, verdict: Assessment, proposals: list[ProposedAction], *, escalate: bool) -> str:
    """The headline's numbers behind it: severity, the points of each signal, the proposal."""
    why = "; ".join(verdict.reasons) or "no signal past its first step"
    told = " A person is alerted at once." if escalate else ""
    return (f"{incident.issue.replace('_', ' ').capitalize()} on {incident.model}: severity {verdict.severity} "
            f"({verdict.points} points: {why}). Proposed: {', '.join(p.kind for p in proposals) or 'nothing'}.{told}")
