"""`driftline deploy VERSION` against real servers: a version the registry lacks is refused by name and nothing is
requested; a real one becomes an approval request that its requester cannot approve, that a second approver does,
after which the executor moves the champion alias and a serving process following the champion loads it."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from inference.model_holder import ModelHolder
from infra.champion import ChampionFollower
from infra.models import CHAMPION, champion_version, configure_mlflow
from infra.users import add_user
from schemas import ActionCompleted, ApprovalRefused, ApprovalRequested, ModelPromoted
from tests.integration.agent_helpers import FakeTrainer, Watch, cli, decide, running_agent
from tests.model_fixtures import register_simple_model

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
async def deploy_settings(settings, database_url):
    conn = await asyncpg.connect(database_url)
    for name, role in (("bob", "approver"), ("carol", "approver"), ("vic", "viewer")):
        await add_user(conn, name, role, password="pw-" + name)
    await conn.close()
    await asyncio.to_thread(register_simple_model, settings)
    await asyncio.to_thread(register_simple_model, settings, C=0.05, seed=1)  # version 2, now champion
    return settings.model_copy(update={"database_url": database_url, "agent_expiry_interval_s": 3600})


async def _approvals(settings) -> list[dict]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return [dict(r) for r in await conn.fetch("SELECT * FROM approvals")]
    finally:
        await conn.close()


async def deploy(settings, version: str, person: str, *args: str) -> tuple[int, str]:
    return await cli(settings, "deploy", version, "--as", person, "--password-stdin", *args, stdin=f"pw-{person}")


async def test_deploy_refuses_what_it_cannot_do_and_asks_nothing(deploy_settings):
    s = deploy_settings
    code, out = await deploy(s, "7", "bob")
    assert code == 1 and "version '7' of driftline-classifier does not exist" in out
    assert "its versions are 1, 2" in out and "nothing was requested" in out
    code, out = await deploy(s, "2", "bob")
    assert code == 1 and "version 2 of driftline-classifier is already the champion" in out
    code, out = await deploy(s, "1", "vic")
    assert code == 1 and "vic is a viewer" in out
    assert await _approvals(s) == []


async def test_a_deploy_goes_through_a_second_person_and_the_champion_follows(bus, deploy_settings):
    s = deploy_settings
    configure_mlflow(s)
    holder = ModelHolder(s)
    assert await holder.load_alias() and holder.version == "2"
    follower = ChampionFollower(bus, s.model_name, holder.follow, poll_s=3600)  # the event, not the poll
    watch = await Watch().start(bus)
    stop = asyncio.Event()
    await follower.subscribe()
    following = asyncio.create_task(follower.run(stop))
    try:
        async with running_agent(s, FakeTrainer()):
            code, out = await deploy(s, "1", "bob", "--reason", "version 2 misses the old segment", "--json")
            assert code == 0, out
            asked = json.loads(out.strip().splitlines()[-1])
            [row] = await _approvals(s)
            assert (row["approval_id"], row["status"], row["requested_by"]) == (asked["approval_id"], "pending", "bob")
            assert json.loads(row["action"])["params"] == {"version": "1"}
            assert "Version 1 becomes champion" in row["predicted_impact"]
            assert "champion version 2 has" in row["predicted_impact"]
            [request] = await watch.wait(ApprovalRequested)  # announced through the owner's outbox
            assert request.data.approval_id == asked["approval_id"]

            code, out = await decide(s, "approve", asked["approval_id"], "bob")
            assert code == 1 and "self_approval" in out
            await watch.wait(ApprovalRefused)
            code, out = await decide(s, "approve", asked["approval_id"], "carol")
            assert code == 0, out
            [done] = await watch.wait(ActionCompleted, lambda e: e.data.kind == "deploy_model", timeout=60)
            [promoted] = watch.of(ModelPromoted)
            assert (promoted.data.version, promoted.data.previous_version) == ("1", "2")
            assert done.data.result == {"version": "1", "previous_version": "2"}
            assert str(champion_version(s, CHAMPION).version) == "1"
            async with asyncio.timeout(30):
                while holder.version != "1":
                    await asyncio.sleep(0.05)
    finally:
        stop.set()
        await following
        await watch.stop()
