"""Forged decisions against the real agent (its own credential, its own stores): schedules that NATS lets through
because they come with the agent's credential, rows written straight into PostgreSQL, replays of real approvals.
The executor (agent/authorisation.py) refuses each; a genuine, signed approval still runs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from infra.bus import Bus
from infra.db import connect_pool
from schemas import ActionCompleted, ActionFailed, ActionScheduled
from schemas.envelope import utcnow
from tests.integration.agent_helpers import Watch, approved_schedule, running_agent

pytestmark = pytest.mark.integration
MODEL = "driftline-classifier"
CORRELATION = "01a00000-0000-7000-8000-000000000015"


def scheduled(action_id: str, kind: str, params: dict, tier: str, approved_by="policy", approval_id=None):
    return ActionScheduled(source="agent/gate", subject=MODEL, correlation_id=CORRELATION, data=dict(
        action=dict(action_id=action_id, kind=kind, model=MODEL, params=params, tier=tier),
        approved_by=approved_by, approval_id=approval_id))


def variant(schedule: ActionScheduled, event_id: str, *, approved_by: str | None = None, **action) -> ActionScheduled:
    data = schedule.data.model_copy(update={"action": schedule.data.action.model_copy(update=action)}
                                    | ({"approved_by": approved_by} if approved_by else {}))
    return schedule.model_copy(update={"id": event_id, "data": data})


async def write_decision_row(pool, approval_id: str, params: dict, signature: str | None) -> ActionScheduled:
    """What someone with write access to the database would do: an approved row for an action of their choosing,
    decided by a real approver, and the schedule naming it."""
    from agent.approvals.rules import action_hash
    from schemas.action import ActionSpec

    action = ActionSpec(action_id=f"act-{approval_id}", kind="change_config", model=MODEL, params=params,
                        tier="one_approver", reason="written into the table")
    now = utcnow()
    await pool.execute(
        "INSERT INTO approvals (approval_id, request_event_id, correlation_id, model, action, action_hash, "
        "requested_by, summary, requested_at, expires_at, status, decided_by, decided_at, decision_via, "
        "decision_signature) VALUES ($1, $2, $3, $4, $5, $6, 'agent', 'x', $7, $8, 'approved', 'bob', $7, 'web', $9)",
        approval_id, f"req-{approval_id}", CORRELATION, MODEL, action.model_dump_json(), action_hash(action), now,
        now + timedelta(hours=1), signature)
    return ActionScheduled(source="agent/gate", subject=MODEL, correlation_id=CORRELATION, data=dict(
        action=action, approved_by="bob", approval_id=approval_id))


async def test_the_executor_runs_only_what_a_signed_in_person_approved(nats_server, bus, settings, database_url,
                                                                       attacks):
    settings = settings.model_copy(update={"database_url": database_url})
    pool = await connect_pool(database_url, max_size=4)
    watch = await Watch().start(bus)
    agent_bus = await Bus.connect(nats_server.url, name="attacker-with-the-agent-credential",
                                  credential=nats_server.auth.seed_file("agent"))
    try:
        genuine = await approved_schedule(pool, settings, "change_config", {"config": {"monitor_window_events": 500}},
                                          action_id="genuine", correlation_id=CORRELATION)
        cutoff = utcnow().isoformat()
        deletion = await approved_schedule(pool, settings, "delete_data", {"dataset": "predictions",
                                                                           "before": cutoff},
                                           action_id="del-1", tier="human_only", requested_by="ann",
                                           decided_by="ben", correlation_id=CORRELATION)
        signature = await pool.fetchval("SELECT decision_signature FROM approvals WHERE approval_id = $1",
                                        genuine.data.approval_id)
        unsigned = await write_decision_row(pool, "ap-unsigned", {"config": {"monitor_window_events": 700}}, None)
        copied = await write_decision_row(pool, "ap-copied", {"config": {"monitor_window_events": 800}}, signature)
        outboxed = scheduled("out-1", "rollback_model", {"to_version": "1"}, "one_approver", approved_by="bob",
                             approval_id=genuine.data.approval_id)
        await pool.execute("INSERT INTO outbox (event_id, subject, type, payload) VALUES ($1, $2, $3, $4)",
                           outboxed.id, outboxed.topic, outboxed.type, outboxed.to_bytes())
        forged = [
            ("a forged action.scheduled published with the agent's own credential, naming no approval",
             scheduled("f-1", "rollback_model", {"to_version": "1"}, "one_approver"),
             "needs a person's approval and the schedule names none"),
            ("an automatic action with parameters the policy never proposes (worker scaled to 0)",
             scheduled("f-2", "scale_service", {"service": "worker", "replicas": 0}, "automatic"),
             "the policy proposes no automatic scale_service"),
            ("a schedule claiming a tier the policy does not give (retrain as automatic)",
             scheduled("f-3", "retrain_model", {}, "automatic"), "retrain_model is one_approver in the policy"),
            ("an approval replayed with other parameters and a fresh action id",
             variant(genuine, "01a00000-0000-7000-8000-0000000015a1", action_id="f-4",
                     params={"config": {"monitor_window_events": 100}}), "is for another action"),
            ("an approval's schedule re-sent naming another approver",
             variant(genuine, "01a00000-0000-7000-8000-0000000015a2", approved_by="eve"), "decided by bob, not eve"),
            ("an approved delete_data replayed on other data (requests) with a fresh action id",
             variant(deletion, "01a00000-0000-7000-8000-0000000015a3", action_id="f-6",
                     params={"dataset": "requests", "before": cutoff}), "is for another action"),
            ("a decision row written straight into the approvals table (no signature)", unsigned,
             "carries no valid signature"),
            ("a decision row written into the table with a signature copied from a real decision", copied,
             "carries no valid signature"),
            ("an action.scheduled written into the outbox table (the relay publishes it as the agent)", outboxed,
             "is for another action"),
        ]
        await agent_bus.publish_many([event for _, event, _ in forged if event is not outboxed])
        async with running_agent(settings):
            ids = {event.data.action.action_id for _, event, _ in forged}
            await watch.wait(ActionFailed, lambda e: e.data.action_id in ids, n=len(ids), timeout=120)
            done = await watch.wait(ActionCompleted, lambda e: e.data.action_id == "genuine", timeout=120)
        errors = {e.data.action_id: e.data.error for e in watch.of(ActionFailed)}
        for attack, event, words in forged:
            error = errors.get(event.data.action.action_id, "no refusal")
            attacks.record(attack, "the executor refuses it: no signed approval for exactly this action",
                           error, words in error)
        assert done and await pool.fetchval("SELECT count(*) FROM agent_config_versions") == 1  # genuine ran, once
        applied = json.loads(await pool.fetchval("SELECT config FROM agent_config_versions"))
        assert applied == {"monitor_window_events": 500}
    finally:
        await agent_bus.close()
        await watch.stop()
        await pool.close()
