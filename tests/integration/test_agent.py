"""The agent against a real nats-server and PostgreSQL: storm folding, approvals from the terminal, refusals,
rejection, expiry, and the gate's state rebuilt from the audit stream."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest
import yaml

from agent.approvals import book
from agent.approvals import rules as approvals
from agent.approvals.rebuild import rebuild_from_audit
from agent.expiry import expire_once
from agent.policy import DEFAULT_POLICY
from infra.users import add_user
from schemas import (
    ActionCompleted,
    ActionEscalated,
    ActionScheduled,
    ApprovalDecided,
    ApprovalExpired,
    ApprovalRefused,
    ApprovalRequested,
    DiagnosisMade,
)
from tests.integration.agent_helpers import FakeTrainer, Watch, cli, decide, running_agent
from tests.unit.agent.alerts import alert
from tests.unit.agent.evidence_fixtures import IMPORTANT, harmful_window, report, window_event

pytestmark = pytest.mark.integration


@pytest.fixture
async def agent_settings(settings, database_url):
    conn = await asyncpg.connect(database_url)
    for name, role in (("bob", "approver"), ("carol", "approver"), ("vic", "viewer")):
        await add_user(conn, name, role, password="pw-" + name)
    await conn.close()
    return settings.model_copy(update={"database_url": database_url, "agent_expiry_interval_s": 3600})


@pytest.fixture
async def watch(bus):
    w = await Watch().start(bus)
    yield w
    await w.stop()


def medium_storm(n: int):
    """n alerts of one model and kind a minute apart, after a window in which important features drift and move
    the predictions: the first opens a medium incident, the rest fold into it."""
    first = alert(features=tuple(IMPORTANT))
    return [harmful_window(), first] + [alert(features=tuple(IMPORTANT), at=first.time + timedelta(minutes=i))
                                        for i in range(1, n)]


async def test_storm_is_one_incident_approved_from_the_terminal(bus, watch, agent_settings):
    trainer = FakeTrainer()
    storm = medium_storm(20)
    async with running_agent(agent_settings, trainer):
        await bus.publish_many(storm)
        [request] = await watch.wait(ApprovalRequested)
        await watch.wait(ActionCompleted, lambda e: e.data.kind == "send_alert")  # automatic, at once
        incident = storm[1].id
        [diagnosis] = watch.of(DiagnosisMade)
        assert diagnosis.data.incident_id == incident and diagnosis.data.severity == "medium"

        code, out = await cli(agent_settings, "approvals", "list", "--json")
        assert code == 0
        [listed] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert listed["approval_id"] == request.data.approval_id and listed["action"]["kind"] == "retrain_model"

        code, out = await decide(agent_settings, "approve", request.data.approval_id, "vic")
        assert code != 0 and "refused (not_allowed)" in out
        code, out = await decide(agent_settings, "approve", request.data.approval_id, "bob", password="pw-carol")
        assert code == 1 and "sign-in failed" in out  # a name alone is no credential
        code, out = await cli(agent_settings, "approvals", "approve", request.data.approval_id, "--as", "bob")
        assert code == 2 and "needs your password" in out  # no terminal to ask in, nothing piped
        code, out = await decide(agent_settings, "approve", request.data.approval_id, "bob",
                              "--action-hash", "f" * 64)
        assert code != 0 and "refused (action_changed)" in out and "the action changed" in out
        code, out = await decide(agent_settings, "approve", request.data.approval_id, "bob",
                              "--action-hash", listed["action_hash"][:12], "--comment", "go")
        assert code == 0, out
        code, out = await decide(agent_settings, "approve", request.data.approval_id, "carol")
        assert code != 0 and "refused (already_decided)" in out and "approved by bob" in out

        [done] = await watch.wait(ActionCompleted, lambda e: e.data.kind == "retrain_model")
        assert done.data.result["version"] == "2" and done.data.result["promoted"] is True
        refusals = await watch.wait(ApprovalRefused, n=3)
        code, out = await cli(agent_settings, "approvals", "list")
        assert "0 pending" in out and "approved 1 of 1 decided proposal(s)" in out

    assert len(trainer.calls) == 1 and trainer.calls[0]["trigger"] == request.data.action.action_id
    [scheduled] = watch.of(ActionScheduled, lambda e: e.data.approval_id is not None)
    assert scheduled.data.action == request.data.action and scheduled.data.approved_by == "bob"
    assert {r.data.reason for r in refusals} == {"not_allowed", "action_changed", "already_decided"}
    assert len(watch.of(DiagnosisMade)) == 1 and len(watch.of(ApprovalRequested)) == 1  # one incident, not 20
    chain = [e for e in watch.events if e.correlation_id == incident]
    kinds = {type(e).__name__ for e in chain}
    assert {"DiagnosisMade", "ApprovalRequested", "ApprovalDecided", "ActionScheduled", "ActionStarted",
            "ActionCompleted", "ApprovalRefused"} <= kinds
    decided = watch.of(ApprovalDecided)[0]
    assert decided.data.via == "cli" and decided.correlation_id == incident


async def test_rejection_escalates_and_executes_nothing(bus, watch, agent_settings):
    trainer = FakeTrainer()
    async with running_agent(agent_settings, trainer):
        await bus.publish_many(medium_storm(1))
        [request] = await watch.wait(ApprovalRequested)
        code, out = await decide(agent_settings, "reject", request.data.approval_id, "bob",
                              "--comment", "not during the sale")
        assert code == 0, out
        [escalated] = await watch.wait(ActionEscalated)
        await watch.wait(ActionCompleted, lambda e: e.data.kind == "send_alert")
    assert escalated.data.approval_id == request.data.approval_id and "not during the sale" in escalated.data.reason
    assert escalated.correlation_id == request.correlation_id
    assert not watch.of(ActionScheduled, lambda e: e.data.action.kind == "retrain_model")
    assert trainer.calls == []


async def test_self_approval_and_forged_decisions_are_refused(bus, watch, agent_settings):
    async with running_agent(agent_settings):
        await bus.publish_many(medium_storm(1))
        [agent_request] = await watch.wait(ApprovalRequested)
        # A person's own request (e.g. carol proposes a deploy): carol may not approve it.
        action = agent_request.data.action.model_copy(update={"action_id": "a-carol", "kind": "deploy_model",
                                                               "params": {"version": "1"}})
        mine = ApprovalRequested(source="ui", subject="m", data=agent_request.data.model_copy(update={
            "approval_id": "req-carol", "action": action, "action_hash": approvals.action_hash(action),
            "requested_by": "carol"}))
        conn = await asyncpg.connect(agent_settings.database_url)
        await book.record_request(conn, mine)
        await conn.close()
        code, out = await decide(agent_settings, "approve", "req-carol", "carol")
        assert code != 0 and "refused (self_approval)" in out
        # A decision published straight to the bus, past the approvals owner: nothing acts on it.
        forged = ApprovalDecided(source="mallory", subject="m", correlation_id=agent_request.correlation_id,
                                 data=dict(approval_id=agent_request.data.approval_id, decision="approve",
                                           decided_by="bob", action_hash=agent_request.data.action_hash))
        await bus.publish(forged)
        await asyncio.sleep(2)
        assert not watch.of(ActionScheduled, lambda e: e.data.approval_id is not None)
        conn = await asyncpg.connect(agent_settings.database_url)
        assert await conn.fetchval("SELECT status FROM approvals WHERE approval_id = $1",
                                   agent_request.data.approval_id) == "pending"
        await conn.close()
    assert {r.data.reason for r in watch.of(ApprovalRefused)} == {"self_approval"}


async def test_expired_request_is_refused_then_expired_and_escalated(bus, watch, agent_settings, tmp_path):
    doc = yaml.safe_load(DEFAULT_POLICY.read_text())
    doc["approval_ttl_minutes"] = 0.005  # 0.3 s
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc))
    s = agent_settings.model_copy(update={"agent_policy_file": tmp_path / "p.yaml"})
    async with running_agent(s):
        await bus.publish_many(medium_storm(1))
        [request] = await watch.wait(ApprovalRequested)
        code, out = await decide(s, "approve", request.data.approval_id, "bob")
        assert code != 0 and "refused (expired)" in out
        conn = await asyncpg.connect(s.database_url)
        try:
            assert await expire_once(conn) == 1
            assert await expire_once(conn) == 0
        finally:
            await conn.close()
        [expired] = await watch.wait(ApprovalExpired)
        [escalated] = await watch.wait(ActionEscalated)
    assert expired.data.approval_id == escalated.data.approval_id == request.data.approval_id
    assert expired.correlation_id == escalated.correlation_id == request.correlation_id


async def test_gate_state_is_rebuilt_from_the_audit_stream(bus, watch, agent_settings):
    trainer = FakeTrainer()
    window, first = medium_storm(1)
    # Another model whose labels show quality lost with steady inputs: its own incident, medium.
    other = window_event(report(model="other", counts=(460, 40, 40, 460)))
    second = alert(kind="quality_drift", statistic="error_rate", features=(), model="other")
    async with running_agent(agent_settings, trainer):
        await bus.publish_many([window, first, other, second])
        requests = await watch.wait(ApprovalRequested, n=2)
        by_incident = {r.correlation_id: r for r in requests}
        decided_one = by_incident[first.id]
        code, out = await decide(agent_settings, "approve", decided_one.data.approval_id, "bob")
        assert code == 0, out
        await watch.wait(ActionCompleted, lambda e: e.data.kind == "retrain_model")
        forged = ApprovalDecided(source="mallory", subject="m", correlation_id=second.id, data=dict(
            approval_id=by_incident[second.id].data.approval_id, decision="approve", decided_by="bob",
            action_hash=by_incident[second.id].data.action_hash))
        await bus.publish(forged)
        await asyncio.sleep(1)

    conn = await asyncpg.connect(agent_settings.database_url)
    before = {r["approval_id"]: (r["status"], r["decided_by"]) for r in await conn.fetch("SELECT * FROM approvals")}
    await conn.execute("DELETE FROM approvals")  # the read model is lost
    assert await rebuild_from_audit(conn, bus.js) == 2
    after = {r["approval_id"]: (r["status"], r["decided_by"]) for r in await conn.fetch("SELECT * FROM approvals")}
    await conn.close()
    assert after == before
    assert after[by_incident[second.id].data.approval_id] == ("pending", None)  # the forged decision is not a fact

    async with running_agent(agent_settings, trainer):  # a restarted gate carries on where it was
        code, out = await decide(agent_settings, "approve", by_incident[second.id].data.approval_id, "carol")
        assert code == 0, out
        await watch.wait(ActionCompleted, lambda e: e.data.kind == "retrain_model", n=2)
    assert len(trainer.calls) == 2


async def test_recommend_only_mode_proposes_and_executes_nothing(bus, watch, agent_settings):
    s = agent_settings.model_copy(update={"agent_recommend_only": True})
    async with running_agent(s):
        await bus.publish(alert(value=0.25))  # low: normally log + alert at once
        requests = await watch.wait(ApprovalRequested, n=2)
        assert sorted(r.data.action.kind for r in requests) == ["log_error", "send_alert"]
        code, out = await decide(s, "approve", requests[0].data.approval_id, "bob")
        assert code == 0, out
        code, out = await decide(s, "reject", requests[1].data.approval_id, "carol")
        assert code == 0, out
        [done] = await watch.wait(ActionCompleted)
        await watch.wait(ActionEscalated)
        code, out = await cli(s, "approvals", "list")
    assert done.data.action_id == requests[0].data.action.action_id
    assert len(watch.of(ActionScheduled)) == 1 and watch.of(ActionScheduled)[0].data.approved_by == "bob"
    assert "people approved 1 of 2 decided proposal(s) by the agent (50%)" in out


async def test_the_agent_refuses_to_start_on_an_invalid_policy(tmp_path, agent_settings):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"tiers": {"retrain_model": "sometimes"}}))
    env = {"DRIFTLINE_AGENT_POLICY_FILE": str(tmp_path / "bad.yaml")}
    code, out = await cli(agent_settings, "serve", "agent", env=env)
    assert code != 0
    assert "agent not started: policy file" in out and "tiers.retrain_model" in out
