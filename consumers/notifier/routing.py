"""Which events become notifications, how severe they are, and which channels they go to (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from consumers.reports.names import relative_path
from schemas import Event
from schemas.action import ActionCompleted, ActionEscalated, ActionFailed
from schemas.approval import ApprovalRequested
from schemas.model import ModelPromoted
from schemas.monitoring import AlertRaised

SEVERITIES = ("low", "medium", "high", "critical")
CHANNELS = ("email", "slack")
NOTIFIER = "consumers/notifier"  # the source of our own delivery outcomes: records, not news (no notice of a notice)

GROUPS: dict[type[Event], str] = {
    AlertRaised: "alert",
    ActionEscalated: "escalation",
    ApprovalRequested: "approval",
    ModelPromoted: "promotion",
    ActionCompleted: "action",
    ActionFailed: "action",
}
SUBJECTS = tuple(cls.topic for cls in GROUPS)


@dataclass(frozen=True)
class Notification:
    """What a person is told about one event, and where."""

    event_id: str
    event_type: str
    correlation_id: str
    group: str
    severity: str
    title: str
    summary: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    link: str | None = None
    report: tuple[str, str] | None = None  # (kind, id) of the PDF that goes with it
    channels: tuple[str, ...] = ()
    report_link: str | None = None  # the PDF on the approval page (signed-in people), once it is built


def agent_alert(event: Event) -> bool:
    """The agent's send_alert action: a message it asks the notifier to deliver (not our own delivery record)."""
    return isinstance(event, ActionCompleted) and event.data.kind == "send_alert" and event.source != NOTIFIER


def severity_of(event: Event) -> str:
    """The event's severity: stated where the event carries one, else by what kind of news it is."""
    data = event.data
    if agent_alert(event):
        stated = str(data.result.get("severity", "medium"))
        return stated if stated in SEVERITIES else "medium"
    if isinstance(event, ActionEscalated):
        return data.severity
    if isinstance(event, AlertRaised):
        stated = data.labels.get("severity", "").lower()
        if stated in SEVERITIES:
            return stated
        return "high" if data.threshold > 0 and data.value >= 2 * data.threshold else "medium"
    if isinstance(event, ActionFailed):
        return "high"
    if isinstance(event, ApprovalRequested):
        return "medium"
    return "low"


def report_for(event: Event) -> tuple[str, str] | None:
    """The report that explains an event: (kind, id), or None."""
    if isinstance(event, AlertRaised):
        return ("drift", event.id)
    if isinstance(event, ModelPromoted):
        return ("deployment", event.data.version) if event.data.promoted else None
    if isinstance(event, ActionCompleted | ActionFailed | ActionEscalated | ApprovalRequested):
        return ("incident", event.correlation_id)
    return None


def route(event: Event, routes: dict[str, list[str]], groups: list[str], ui_url: str,
          group_routes: dict[str, list[str]] | None = None) -> Notification | None:
    """Event -> Notification with its channels (the group's own routes, else the severity's), or None when nobody is
    to be told."""
    if isinstance(event, ActionCompleted | ActionFailed) and event.source == NOTIFIER:
        return None
    group = "incident" if agent_alert(event) else GROUPS.get(type(event))
    if group is None or group not in groups:
        return None
    severity = severity_of(event)
    asked = [str(c) for c in event.data.result.get("channels", ["default"])] if agent_alert(event) else ["default"]
    by_severity = (group_routes or {}).get(group) or routes.get(severity, [])
    channels = tuple(c for c in (by_severity if "default" in asked else asked) if c in CHANNELS)
    if not channels:
        return None
    title, summary, facts = describe(event)
    base = ui_url.rstrip("/")
    if isinstance(event, ApprovalRequested):
        link = f"{base}/approvals/{event.data.approval_id}"
    else:
        link = f"{base}/incidents/{event.correlation_id}"
    report = report_for(event)
    report_link = f"{base}/reports/{relative_path(*report)}" if report else None
    return Notification(event.id, event.type, event.correlation_id, group, severity, title, summary, facts, link,
                        report, channels, report_link)


def _metrics(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in sorted(values.items())) or "-"


def describe(event: Event) -> tuple[str, str, list[tuple[str, str]]]:
    """Title, one-paragraph summary and key facts of an event, in words a person reads."""
    d = event.data
    if isinstance(event, AlertRaised):
        feats = ", ".join(d.features) or "-"
        summary = d.summary or f"{d.kind} on {d.model}: {d.statistic} {d.value:.4f} crossed {d.threshold:.4f}."
        return (f"Alert: {d.kind} on {d.model}", summary,
                [("Model", f"{d.model} v{d.model_version or '?'}"), ("Features", feats), ("Detector", d.detector),
                 ("Statistic", f"{d.statistic} = {d.value:.4f} (threshold {d.threshold:.4f})")])
    if isinstance(event, ActionEscalated):
        action = d.action.kind if d.action else "-"
        return (f"Escalated ({d.severity}): {d.model}", d.reason,
                [("Model", d.model), ("Severity", d.severity), ("Action", action)])
    if isinstance(event, ApprovalRequested):
        a = d.action
        return (f"Approval needed: {a.kind} on {a.model}", d.summary,
                [("Action", a.kind), ("Requested by", d.requested_by), ("Tier", a.tier),
                 ("Expires", d.expires_at.strftime("%Y-%m-%d %H:%M UTC")), ("Impact", d.predicted_impact or "-")])
    if isinstance(event, ModelPromoted):
        verb = "promoted to champion" if d.promoted else "not promoted"
        return (f"{d.model} v{d.version} {verb}", d.reason,
                [("Previous", d.previous_version or "-"), ("Metric", d.metric),
                 ("Challenger", _metrics(d.challenger_metrics)), ("Champion", _metrics(d.champion_metrics))])
    if agent_alert(event):
        return (f"Incident on {d.model} ({severity_of(event)})", str(d.result.get("message") or d.summary),
                [("Model", d.model), ("Severity", severity_of(event))])
    if isinstance(event, ActionCompleted):
        return (f"Action completed: {d.kind} on {d.model}", d.summary or f"{d.kind} completed.",
                [("Before", _metrics(d.metrics_before)), ("After", _metrics(d.metrics_after))])
    if isinstance(event, ActionFailed):
        return (f"Action failed: {d.kind} on {d.model}", d.error, [("Action id", d.action_id)])
    return (event.type, "", [])
