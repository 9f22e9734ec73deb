"""The incident report: the timeline of one correlation id, from the alert to the outcome."""

from __future__ import annotations

from collections.abc import Sequence

from consumers.reports.audit_log import of_type
from schemas import Event
from schemas.action import (
    ActionCompleted,
    ActionEscalated,
    ActionFailed,
    ActionScheduled,
    ActionStarted,
)
from schemas.agent import DiagnosisMade
from schemas.approval import ApprovalDecided, ApprovalExpired, ApprovalRequested
from schemas.monitoring import AlertRaised, DriftReported

NOTIFICATION_KINDS = {"send_alert"}


def _charts():
    """matplotlib loads where a report is drawn, not where an event is only asked whether it closes an incident."""
    from consumers.reports import charts

    return charts


def closes_incident(event: Event) -> bool:
    """An outcome that ends an incident; our own notification outcomes do not."""
    if isinstance(event, ActionEscalated):
        return True
    return isinstance(event, ActionCompleted | ActionFailed) and event.data.kind not in NOTIFICATION_KINDS


def default_incident(events: Sequence[Event]) -> str | None:
    alerts = of_type(events, AlertRaised)
    return alerts[-1].correlation_id if alerts else None


def describe(event: Event) -> str:
    """One line of the timeline."""
    d = event.data
    match event:
        case DriftReported():
            drifted = [f.feature for f in d.features if f.drifted]
            return (f"window of {d.window.events} events: {len(drifted)} of {len(d.features)} features drifted "
                    f"(share {d.share_drifted:.4f})")
        case AlertRaised():
            return d.summary or f"{d.kind}: {d.statistic} {d.value:.4f} > {d.threshold:.4f} ({d.detector})"
        case DiagnosisMade():
            return f"{d.issue}, severity {d.severity}: {d.reasoning}"
        case ApprovalRequested():
            return f"{d.action.kind} requested by {d.requested_by}: {d.summary}"
        case ApprovalDecided():
            return f"{d.decision} by {d.decided_by} via {d.via}" + (f": \u201c{d.comment}\u201d" if d.comment else "")
        case ApprovalExpired():
            return "expired without a decision"
        case ActionScheduled():
            return f"{d.action.kind} scheduled, approved by {d.approved_by}"
        case ActionStarted():
            return f"{d.kind} started"
        case ActionCompleted():
            return d.summary or f"{d.kind} completed"
        case ActionFailed():
            return f"{d.kind} failed: {d.error}"
        case ActionEscalated():
            return f"escalated ({d.severity}): {d.reason}"
    return getattr(d, "summary", "") or ""


def incident_context(events: Sequence[Event], correlation_id: str) -> dict:
    """Every event of one correlation id -> the template's context."""
    from consumers.reports.deployment import metric_names  # (matplotlib: loaded where reports are drawn)

    story = [e for e in events if e.correlation_id == correlation_id]
    if not story:
        raise LookupError(f"no events with correlation id {correlation_id!r} on the audit trail")
    timeline = [{"time": e.time, "type": type(e).__name__, "source": e.source, "text": describe(e), "id": e.id}
                for e in story]
    outcomes = [e for e in story if closes_incident(e)]
    figures, outcome_rows = [], []
    for out in of_type(outcomes, ActionCompleted):
        d = out.data
        for m in metric_names(d.metrics_before, d.metrics_after):
            before, after = d.metrics_before.get(m), d.metrics_after.get(m)
            outcome_rows.append({"action": d.kind, "metric": m, "before": before, "after": after,
                                 "delta": None if before is None or after is None else after - before})
        if d.metrics_before or d.metrics_after:
            figures.append({"title": f"{d.kind}: metrics before and after",
                            "src": _charts().before_after(d.metrics_before, d.metrics_after, f"{d.kind} ({d.action_id})"),
                            "sources": [f"ActionCompleted {out.id}"], "section": "outcome"})
    first = story[0]
    return {
        "kind": "incident", "title": f"Incident report: {first.subject}", "correlation_id": correlation_id,
        "timeline": timeline, "alerts": of_type(story, AlertRaised), "diagnoses": of_type(story, DiagnosisMade),
        "requests": of_type(story, ApprovalRequested), "decisions": of_type(story, ApprovalDecided),
        "actions": of_type(story, ActionScheduled), "outcomes": outcomes, "outcome_rows": outcome_rows,
        "status": "closed" if outcomes else "open", "figures": figures, "opened": first.time,
        "closed": outcomes[-1].time if outcomes else None, "source_ids": [e.id for e in story],
    }
