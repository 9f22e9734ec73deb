"""The diagnoser: alerts open incidents; window reports, labels and outcomes re-score them; repairs are verified.

Each handler loads the incident's state under a row lock, applies the event (pure logic in `incident_state`,
`verification`), saves the state and enqueues what it announces in the same transaction (the outbox).
"""

from __future__ import annotations

import logging

import asyncpg

from agent import incidents, verification
from agent.evidence import Evidence
from agent.incident_state import REPAIRS, SOURCE, IncidentState, ModelFacts, family_of
from agent.policy import SEVERITIES, Policy
from agent.shadow_promotion import propose_promotion
from infra import outbox
from infra.consumer import Received, Routes
from schemas import (
    ActionCompleted,
    ActionEscalated,
    ActionFailed,
    ActionVerified,
    AlertCleared,
    AlertRaised,
    DiagnosisMade,
    DriftReported,
    Event,
    ModelPromoted,
    ModelRolledBack,
    ModelShadowDecided,
)
from schemas.agent import Diagnosis, ProposedAction
from schemas.monitoring import DriftWindowReport

log = logging.getLogger(__name__)


def start_evidence(reports: list[dict]) -> Evidence:
    """A new incident's evidence: the model's last few windows (the alert's own window among them)."""
    evidence = Evidence()
    for doc in reports:
        report = DriftWindowReport.model_validate(doc)
        if evidence.version not in (None, report.model_version):
            evidence = Evidence()  # another champion served those: start from its windows only
        evidence.version = report.model_version
        evidence.add_report(report)
    return evidence


def diagnose(alert: AlertRaised, policy: Policy, evidence: Evidence | None = None,
             facts: ModelFacts = ModelFacts()) -> DiagnosisMade:
    """The first diagnosis of an incident an alert opens, from the model's recent evidence. Pure."""
    return IncidentState.opened_by(alert, evidence or Evidence()).rescore(alert, policy, facts, alert.time)


def start_remediation(state: IncidentState, action_id: str, kind: str, version: str | None, at,
                      summary: str) -> verification.Remediation:
    """What a repair is judged against: quality during the incident and before it. A repair that puts the version
    already being watched into service (a retrain's outcome after its promotion) keeps what was counted."""
    e = state.evidence
    remediation = verification.Remediation(
        action_id=action_id, kind=kind, version=version, at=at, summary=summary,
        before={k: v for k, v in {"f1": e.labels.f1(), "accuracy": e.labels.accuracy(), "labelled": float(e.labels.n),
                                  "prediction_shift": e.prediction_shift()}.items() if v is not None},
        baseline=dict(e.reference))
    if state.remediation is not None and version is not None:
        watched = verification.Remediation.from_json(state.remediation)
        if watched.version == version:
            remediation.at, remediation.after = watched.at, watched.after
            remediation.predictions, remediation.drift_windows = watched.predictions, watched.drift_windows
    return remediation


def verified_events(state: IncidentState, cause: Event, result, policy: Policy, facts: ModelFacts) -> list[Event]:
    """ActionVerified; if it failed, a diagnosis proposing the policy's next step (a person is told at once)."""
    out: list[Event] = [cause.caused(ActionVerified, source=SOURCE, subject=state.model, key="verified",
                                     correlation_id=state.incident_id, data=result)]
    if result.passed:
        state.phase = "resolved"
        return out
    state.phase, state.remediation = "open", None
    previous = state.severity
    severity = max(previous or "high", "high", key=SEVERITIES.index)
    proposals = []
    for template in policy.verification.on_failure:
        params = dict(template.params)
        if template.kind == "rollback_model" and "to_version" not in params:
            if not facts.previous:
                continue
            params["to_version"] = facts.previous
        proposals.append(ProposedAction(kind=template.kind, params=params, reason=f"verification failed: {result.summary}"))
    state.severity, state.revision = severity, state.revision + 1
    out.append(cause.caused(DiagnosisMade, source=SOURCE, subject=state.model, key=f"rev{state.revision}",
                            correlation_id=state.incident_id, data=Diagnosis(
        incident_id=state.incident_id, model=state.model, issue=state.issue, severity=severity,
        reasoning=f"The remediation did not verify: {result.summary}. Proposed: "
                  f"{', '.join(p.kind for p in proposals) or 'nothing'}; a person is alerted at once.",
        evidence=[], features=state.evidence.drifted_features, proposed_actions=proposals,
        alert_ids=list(state.alert_ids), revision=state.revision, previous_severity=previous,
        changes=[f"verification failed: {result.summary}"], signals=state.signals,
        headline=f"The remediation did not help ({result.summary}); a person must look.")))
    return out


class DiagnoserHandler:
    """Consumes alerts, window reports, outcomes and registry moves; announces diagnoses and verifications."""

    def __init__(self, pool: asyncpg.Pool, policy: Policy):
        self.pool, self.policy = pool, policy
        self.routes = Routes({AlertRaised: self.on_alert, AlertCleared: self.on_cleared, DriftReported: self.on_report,
                              ActionCompleted: self.on_outcome, ActionFailed: self.on_outcome,
                              ActionEscalated: self.on_escalated, ModelPromoted: self.on_model,
                              ModelRolledBack: self.on_model, ModelShadowDecided: self.on_shadow})

    async def on_alert(self, item: Received) -> None:
        """AlertRaised -> a new incident with its first diagnosis, or folded into the open one (re-scored)."""
        alert: AlertRaised = item.event
        async with self.pool.acquire() as conn, conn.transaction():
            if await incidents.seen_alert(conn, alert.id):
                return  # a redelivery: what it caused is in the outbox already
            model = alert.data.model
            facts = await incidents.facts(conn, model)
            state = await incidents.open_incident(conn, model, family_of(alert))
            if state is None:
                state = IncidentState.opened_by(alert, start_evidence(await incidents.recent_reports(conn, model)))
                diagnosis = state.rescore(alert, self.policy, facts, alert.time)
                await incidents.open_new(conn, state)
            else:
                state.add_alert(alert)
                if alert.data.kind in state.cleared:
                    state.cleared.remove(alert.data.kind)
                await incidents.file_alert(conn, alert.id, state.incident_id)
                diagnosis = state.rescore(alert, self.policy, facts, alert.time) if state.phase == "open" else None
                log.info("alert %s folded into incident %s", alert.id, state.incident_id)
            await incidents.save(conn, state, alert.time)
            await outbox.enqueue(conn, [diagnosis] if diagnosis else [])

    async def on_cleared(self, item: Received) -> None:
        """Every alert of an incident without a repair in flight cleared: the condition ended (verified)."""
        cleared: AlertCleared = item.event
        if cleared.data.reason == "model_replaced":
            return  # the old version's alerts retired: says nothing of the condition; the new version is verified
        async with self.pool.acquire() as conn, conn.transaction():
            state = await self._incident_of(conn, cleared.data.alert_id)
            if state is None:
                return
            if cleared.data.kind not in state.cleared:
                state.cleared.append(cleared.data.kind)
            events = []
            if state.phase in ("open", "escalated") and set(state.kinds) <= set(state.cleared) \
                    and not state.remediation:
                events = verified_events(state, cleared, verification.cleared(state.incident_id, state.model),
                                         self.policy, ModelFacts())
            await incidents.save(conn, state)
            await outbox.enqueue(conn, events)

    async def on_report(self, item: Received) -> None:
        """A closed window: keep it; re-score the model's open drift incident, or count it for a verification."""
        report: DriftReported = item.event
        r = report.data
        async with self.pool.acquire() as conn, conn.transaction():
            await incidents.push_report(conn, r.model, r.model_dump(mode="json"))
            state = await incidents.open_incident(conn, r.model, "drift")
            if state is None:
                return
            facts, events = await incidents.facts(conn, r.model), []
            if state.remediation is not None:
                remediation = verification.Remediation.from_json(state.remediation)
                verification.add_report(remediation, r)
                state.remediation = remediation.to_json()
                result = verification.verdict(remediation, self.policy.verification, state.incident_id, state.model,
                                              report.time)
                if result is not None:
                    events = verified_events(state, report, result, self.policy, facts)
            elif r.model_version == state.evidence.version:
                state.evidence.add_report(r)
                diagnosis = state.rescore(report, self.policy, facts, report.time) if state.phase == "open" else None
                events = [diagnosis] if diagnosis else []
            await incidents.save(conn, state)
            await outbox.enqueue(conn, events)

    async def on_outcome(self, item: Received) -> None:
        """A repair of an incident finished (or failed): watch what serves now, or say at once that it changed nothing."""
        done = item.event
        if done.data.kind not in REPAIRS:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            state = await incidents.incident(conn, done.correlation_id)
            if state is None:
                return
            version = verification.served_version(done) if isinstance(done, ActionCompleted) else None
            remediation = start_remediation(state, done.data.action_id, done.data.kind, version, done.time,
                                            getattr(done.data, "summary", "") or getattr(done.data, "error", ""))
            if isinstance(done, ActionCompleted):
                remediation.shadowing = verification.shadowing(done)
            state.remediation, state.phase = remediation.to_json(), "verifying"
            events = []
            if version is None and remediation.shadowing is None:  # nothing changed in service: known now
                result = verification.verdict(remediation, self.policy.verification, state.incident_id, state.model,
                                              done.time)
                events = verified_events(state, done, result, self.policy, await incidents.facts(conn, state.model))
            await incidents.save(conn, state)
            await outbox.enqueue(conn, events)

    async def on_escalated(self, item: Received) -> None:
        """A person rejected a request, or nobody decided in time: it is a person's incident now."""
        escalated: ActionEscalated = item.event
        if escalated.data.approval_id is None:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            state = await incidents.incident(conn, escalated.correlation_id)
            if state is not None and state.phase == "open":
                state.phase = "escalated"
                await incidents.save(conn, state)

    async def on_model(self, item: Received) -> None:
        """Promotions and rollbacks: the facts a regression is judged by (what served before, since when)."""
        event = item.event
        if isinstance(event, ModelPromoted):
            if not event.data.promoted:
                return
            champion, previous = event.data.version, event.data.previous_version
        else:
            champion, previous = event.data.to_version, event.data.from_version
        async with self.pool.acquire() as conn, conn.transaction():
            await incidents.record_champion(conn, event.data.model, champion, previous, event.time)
            state = await incidents.open_incident(conn, event.data.model, "drift")
            if state is None or state.phase == "resolved":
                return
            # Another version serves while the incident is open: whatever put it there (this incident's retrain,
            # a deploy, a rollback by hand), its traffic is what is verified; the repair's outcome, when it comes,
            # names the action without losing what was counted.
            kind = "promotion" if isinstance(event, ModelPromoted) else "rollback"
            state.remediation = start_remediation(state, event.id, kind, str(champion), event.time,
                                                  f"version {champion} serves").to_json()
            state.phase = "verifying"
            await incidents.save(conn, state)

    async def on_shadow(self, item: Received) -> None:
        """A challenger won its shadow test: its promotion is proposed (the gate applies the policy's tier). One that
        did not, and was an open incident's retrained version, means that repair changed nothing: verified failed."""
        decided: ModelShadowDecided = item.event
        diagnosis = propose_promotion(decided)
        async with self.pool.acquire() as conn, conn.transaction():
            events = [diagnosis] if diagnosis is not None else []
            state = await incidents.open_incident(conn, decided.data.model, "drift")
            if state is not None and state.remediation is not None:
                d = decided.data
                result = verification.shadow_lost(verification.Remediation.from_json(state.remediation),
                                                  d.challenger_version, d.decision, d.reason, state.incident_id,
                                                  state.model)
                if result is not None:
                    events += verified_events(state, decided, result, self.policy,
                                              await incidents.facts(conn, state.model))
                    await incidents.save(conn, state)
            await outbox.enqueue(conn, events)

    async def _incident_of(self, conn: asyncpg.Connection, alert_id: str | None) -> IncidentState | None:
        if not alert_id:
            return None
        incident_id = await conn.fetchval("SELECT incident_id FROM agent_incident_alerts WHERE alert_id = $1",
                                          alert_id)
        return await incidents.incident(conn, incident_id) if incident_id else None

