"""The approvals owner's outbox against real servers: a terminal decision made while NATS is down is scheduled
once NATS is back, and a relay killed mid-publish and restarted stores every event exactly once."""

from __future__ import annotations

import asyncio
import signal
import sys

import asyncpg
import pytest

from infra import outbox
from infra.bus import Bus
from infra.stream_reader import read_stream
from infra.users import add_user
from schemas import ActionCompleted, ActionScheduled, AlertRaised, ApprovalRequested
from tests.integration.agent_helpers import ROOT, FakeTrainer, Watch, decide, running_agent
from tests.unit.agent.alerts import alert
from tests.unit.agent.evidence_fixtures import IMPORTANT, harmful_window

pytestmark = pytest.mark.integration


@pytest.fixture
async def agent_settings(settings, database_url):
    conn = await asyncpg.connect(database_url)
    await add_user(conn, "bob", "approver", password="pw-bob")
    await conn.close()
    return settings.model_copy(update={"database_url": database_url, "agent_expiry_interval_s": 3600})


async def scheduled_in_stream(bus: Bus, approval_id: str) -> list[str]:
    found = []
    async for msg in read_stream(bus.js, "AUDIT", subjects=(ActionScheduled.topic,)):
        if f'"approval_id":"{approval_id}"' in msg.data.decode():
            found.append(msg.headers["Nats-Msg-Id"])
    return found


async def test_a_terminal_decision_made_while_nats_is_down_is_scheduled_when_it_is_back(
        nats_server, bus, agent_settings):
    trainer = FakeTrainer()
    watch = await Watch().start(bus)
    async with running_agent(agent_settings, trainer):
        first: AlertRaised = alert(features=tuple(IMPORTANT))
        await bus.publish_many([harmful_window(), first])
        [request] = await watch.wait(ApprovalRequested)
        nats_server.stop()  # the whole bus is gone; the agent, its relay and this test's client reconnect forever
        code, out = await decide(agent_settings, "approve", request.data.approval_id, "bob", "--comment", "go")
        assert code == 0, out  # the decision needs only PostgreSQL: it is saved with its announcement
        conn = await asyncpg.connect(agent_settings.database_url)
        waiting = await conn.fetch("SELECT type FROM outbox WHERE published_at IS NULL ORDER BY id")
        await conn.close()
        assert [r["type"] for r in waiting] == ["driftline.approval.decided.v1", "driftline.action.scheduled.v1"]
        await asyncio.sleep(2)
        nats_server.start()
        [done] = await watch.wait(ActionCompleted, lambda e: e.data.kind == "retrain_model", timeout=60)
    await watch.stop()
    assert done.correlation_id == first.id and len(trainer.calls) == 1
    assert len(await scheduled_in_stream(bus, request.data.approval_id)) == 1


async def test_a_relay_killed_mid_publish_and_restarted_stores_every_event_once(nats_server, bus, database_url):
    total = 2000
    events = [alert(value=0.3, features=("a",)) for _ in range(total)]
    conn = await asyncpg.connect(database_url)
    async with conn.transaction():
        await outbox.enqueue(conn, events)
    await conn.close()

    async def start_relay():
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.integration.outbox_relay_proc",
                                                    nats_server.url, database_url,
                                                    str(nats_server.auth.seed_file("operator")), cwd=ROOT,
                                                    stdout=asyncio.subprocess.PIPE)
        assert (await proc.stdout.readline()).strip() == b"ready"
        return proc

    relay = await start_relay()
    async with asyncio.timeout(60):  # kill it once a part is out, in the middle of its work
        while (await bus.js.stream_info("AUDIT")).state.messages < total // 3:
            await asyncio.sleep(0.01)
    relay.send_signal(signal.SIGKILL)
    await relay.wait()
    killed_at = (await bus.js.stream_info("AUDIT")).state.messages
    relay = await start_relay()
    async with asyncio.timeout(120):
        while True:
            conn = await asyncpg.connect(database_url)
            left = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            await conn.close()
            if left == 0:
                break
            await asyncio.sleep(0.1)
    relay.send_signal(signal.SIGTERM)
    await relay.wait()
    stored = [m.headers["Nats-Msg-Id"] async for m in read_stream(bus.js, "AUDIT")]
    print({"events": total, "stored_when_killed": killed_at, "stored": len(stored), "distinct": len(set(stored))})
    assert 0 < killed_at < total
    assert sorted(stored) == sorted(e.id for e in events)  # every event, none twice
    assert stored == [e.id for e in events]  # and in the order they were written
