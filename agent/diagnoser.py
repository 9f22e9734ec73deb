"""The diagnoser: an alert becomes an incident with a classified issue, a severity, reasoning and proposals."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg

from agent import incidents
from agent.policy import Policy
from agent.severity import assess
from infra.bus import Bus
from infra.consumer import Received
from schemas import (
    ActionCompleted,
    ActionEscalated,
    AlertCleared,
    AlertRaised,
    DiagnosisMade,
    Event,
    derived_id,
    parse_event,
)
from schemas.agent import Diagnosis, Evidence, ProposedAction

log = logging.getLogger(__name__)
SOURCE = "agent/diagnoser"
REPAIRS = {"retrain_model", "deploy_model", "rollback_model"}

ISSUES = {
    "data_drift": "data_drift",
    "prediction_drift": "prediction_drift",
    "quality_drift": "concept_drift",
    "latency": "serving",
    "error_rate": "serving",
    "consumer_lag": "serving",
    "data_quality": "data_quality",
}
_ISSUE_WORDS = {
    "data_drift": "the input data no longer looks like the training data",
    "prediction_drift": "the model's predictions are distributed differently than before",
    "concept_drift": "the model's quality dropped: the relation between inputs and outcome changed",
    "serving": "the serving path is slow or failing",
    "data_quality": "the incoming data has quality problems",
    "unknown": "an external alert whose cause is not classified",
}


def classify(alert: AlertRaised) -> str:
    """The issue an alert points at; an external alert may name it in its labels."""
    issue = ISSUES.get(alert.data.kind)
    if issue is None:
        issue = alert.data.labels.get("issue", "unknown")
    return issue if issue in _ISSUE_WORDS else "unknown"


def diagnose(alert: AlertRaised, policy: Policy, *, duration: timedelta = timedelta(0)) -> DiagnosisMade:
    """AlertRaised (first of an incident) -> DiagnosisMade with severity, reasoning, evidence and proposals."""
    a = alert.data
    issue = classify(alert)
    verdict = assess(a, duration, policy.severity)
    proposals = [
        ProposedAction(kind=t.kind, params=dict(t.params), reason=f"{verdict.severity} {issue.replace('_', ' ')}")
        for t in policy.response(verdict.severity, issue)
    ]
    window = f"{a.window.start.isoformat()} .. {a.window.end.isoformat()} ({a.window.events} events)" if a.window else ""
    features = f" on {', '.join(a.features)}" if a.features else ""
    reasoning = (
        f"{a.detector} raised a {a.kind.replace('_', ' ')} alert for {a.model}{features}: {_ISSUE_WORDS[issue]}. "
        f"Severity {verdict.severity} ({verdict.points} points: {'; '.join(verdict.reasons)}). "
        f"Proposed: {', '.join(p.kind for p in proposals) or 'nothing'}"
        + ("; a person is alerted at once." if verdict.severity in policy.escalate else ".")
    )
    evidence = Evidence(metric=a.statistic, value=a.value, threshold=a.threshold, window=window,
                        report_url=a.report_url, alert_id=alert.id)
    etype = DiagnosisMade.type_name()
    return DiagnosisMade(
        id=derived_id(alert.id, etype),
        source=SOURCE,
        subject=alert.subject,
        correlation_id=alert.id,
        causation_id=alert.id,
        data=Diagnosis(incident_id=alert.id, model=a.model, issue=issue, severity=verdict.severity,
                       reasoning=reasoning, evidence=[evidence], features=list(a.features),
                       proposed_actions=proposals, alert_ids=[alert.id]),
    )


async def handle_alert(conn: asyncpg.Connection, alert: AlertRaised, policy: Policy) -> list[Event]:
    """Fold the alert into its incident, or open one and diagnose it; returns the events to publish."""
    async with conn.transaction():
        seen = await incidents.incident_of_alert(conn, alert.id)
        if seen is not None:  # a redelivery: re-publish the incident's diagnosis if this alert opened it
            return [parse_event(seen.diagnosis)] if seen.incident_id == alert.id and seen.diagnosis else []
        current = await incidents.open_incident(conn, alert.data.model, alert.data.kind)
        if incidents.folds_into(current, alert, policy.storm_window):
            await incidents.fold(conn, current, alert)
            log.info("alert %s folded into incident %s", alert.id, current.incident_id)
            return []
        diagnosis = diagnose(alert, policy)
        await incidents.open_new(conn, alert, current, diagnosis.model_dump_json())
        return [diagnosis]


class DiagnoserHandler:
    """Consumes alerts (raised, cleared) and closing outcomes; emits DiagnosisMade per new incident."""

    def __init__(self, bus: Bus, pool: asyncpg.Pool, policy: Policy):
        self.bus, self.pool, self.policy = bus, pool, policy

    async def __call__(self, batch: list[Received]) -> None:
        for item in batch:
            event = item.event
            async with self.pool.acquire() as conn:
                if isinstance(event, AlertRaised):
                    out = await handle_alert(conn, event, self.policy)
                    if out:
                        await self.bus.publish_many(out)
                elif isinstance(event, AlertCleared):
                    await incidents.close_by_fingerprint(conn, event.data.model, event.data.kind, event.data.alert_id)
                elif closes_incident(event):
                    await incidents.close(conn, event.correlation_id, event.type)


def closes_incident(event: Event) -> bool:
    """A model repair finished, or a person took over after a rejection or expiry: the next alert is new."""
    if isinstance(event, ActionCompleted):
        return event.data.kind in REPAIRS
    return isinstance(event, ActionEscalated) and event.data.approval_id is not None
