"""Challengers proven in the shadow, against a real nats-server, PostgreSQL and MLflow store: the worker scores the
challenger off the response path, the monitor pairs its answers with the champion's once labels arrive and runs the
paired sequential test; a better challenger is promoted through the policy (a person approves, the executor moves
the champion alias), a no-difference one is never promoted and its test ends inconclusive, across a restart."""

from __future__ import annotations

import asyncio
import shutil

import asyncpg
import httpx
import pytest

from agent.approvals.desk import ApprovalDesk
from agent.approvals.keys import decision_signer
from infra.db import connect_pool
from infra.models import CHALLENGER, CHAMPION, champion_version, configure_mlflow
from infra.settings import Settings
from infra.users import add_user
from schemas import ApprovalRequested, ModelPromoted, ModelShadowDecided, PredictionMade, PredictionShadowed
from tests.integration.agent_helpers import Watch, cli, decide, running_agent
from tests.integration.shadow_helpers import requests_and_labels, running_monitor, shadowing_worker
from tests.integration.ui_helpers import sign_in
from tests.model_fixtures import register_simple_model
from ui.app import create_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    """Two registries: a weak champion (C=0.001, 89% accurate on the data) with a better challenger (C=1, 98%),
    and a champion with a challenger trained the same way on another split (98.2% and 98.4%: no real difference)."""
    better = tmp_path_factory.mktemp("better") / "data"
    settings = Settings(data_dir=better, mlflow_tracking_uri=None)  # not a store MLflow exported
    champion = register_simple_model(settings, C=0.001)
    challenger = register_simple_model(settings, alias=CHALLENGER, C=1.0)
    same = tmp_path_factory.mktemp("same") / "data"
    settings = Settings(data_dir=same, mlflow_tracking_uri=None)
    register_simple_model(settings, C=1.0, seed=0)
    register_simple_model(settings, alias=CHALLENGER, C=1.0, seed=1)
    return {"better": (better / "mlflow", champion, challenger), "same": (same / "mlflow", "1", "2")}


@pytest.fixture
async def watch(bus):
    w = await Watch().start(bus)
    yield w
    await w.stop()


async def stage(settings, database_url, store, **update):
    settings = settings.model_copy(update=dict(database_url=database_url, mlflow_tracking_uri=None, model_poll_s=3600,
                                               shadow_poll_s=3600,
                                               monitor_idle_close_s=3600, agent_expiry_interval_s=3600, **update))
    shutil.copytree(store, settings.data_dir / "mlflow")
    configure_mlflow(settings)  # process-global: this test's copy
    return settings


async def test_a_better_challenger_is_promoted_by_the_sequential_test_through_the_policy(settings, bus, watch,
                                                                                        database_url, registries):
    store, champion, challenger = registries["better"]
    settings = await stage(settings, database_url, store, shadow_max_pairs=2000)
    conn = await asyncpg.connect(database_url)
    await add_user(conn, "bob", "approver", password="pw-bob")
    await conn.close()
    pool = await connect_pool(database_url, max_size=4)
    requests, labels = requests_and_labels(settings.model_name, 800, seed=3)
    try:
        async with shadowing_worker(settings, bus) as (_, shadow), running_monitor(settings, bus, pool), \
                running_agent(settings):
            assert {a: m.version for a, m in shadow.models.items()} == {CHALLENGER: challenger}
            await bus.publish_many(requests)
            shadows = await watch.wait(PredictionShadowed, n=len(requests), timeout=60)
            made = {e.data.request_id: e for e in watch.of(PredictionMade)}
            assert {s.data.request_id for s in shadows} == {r.data.request_id for r in requests} == set(made)
            s = shadows[0]
            assert (s.data.champion_version, s.data.challenger_version, s.data.alias, s.data.channel) == \
                   (champion, challenger, CHALLENGER, "bus")
            assert s.correlation_id == made[s.data.request_id].correlation_id  # the request's chain
            disagree = sum(str(made[x.data.request_id].data.predicted_class) != str(x.data.predicted_class)
                           for x in shadows)
            assert disagree > 20  # the two models really differ on this traffic

            await bus.publish_many(labels)
            [decided] = await watch.wait(ModelShadowDecided, timeout=60)
            d = decided.data
            assert (d.decision, d.challenger_version, d.champion_version) == ("promote", challenger, champion)
            assert d.statistic >= d.threshold and d.pairs < len(labels) and d.difference_lower > 0
            assert d.challenger_wins > d.discordant - d.challenger_wins
            assert decided.correlation_id == decided.id  # it opens the promotion's chain

            # The policy: deploy_model needs one approver; the agent asks, a person approves, the executor acts.
            [request] = await watch.wait(ApprovalRequested, timeout=30)
            action = request.data.action
            assert (action.kind, action.params, action.tier) == ("deploy_model", {"version": challenger},
                                                                  "one_approver")
            assert request.correlation_id == decided.id
            assert await asyncio.to_thread(lambda: str(champion_version(settings, CHAMPION).version)) == champion
            code, out = await decide(settings, "approve", request.data.approval_id, "bob")
            assert code == 0, out
            [promoted] = await watch.wait(ModelPromoted, timeout=60)
            assert (promoted.data.version, promoted.data.previous_version) == (challenger, champion)
            assert await asyncio.to_thread(lambda: str(champion_version(settings, CHAMPION).version)) == challenger

        rows = await pool.fetch("SELECT pairs, difference, lower_bound, upper_bound FROM shadow_test_points "
                                "ORDER BY pairs")
        assert rows[-1]["pairs"] == d.pairs and rows[-1]["lower_bound"] > 0
        code, story = await cli(settings, "audit", "replay", "--correlation", decided.id)
        assert code == 0, story
        print(story)
        assert "decided promote" in story and "challenger better: promotion proposed" in story
        assert "deploy_model" in story and "approved" in story and f"promoted v{challenger}" in story

        # The page: the running difference with its band against the decision boundary, and the decision.
        client = httpx.AsyncClient(transport=httpx.ASGITransport(
            app=create_app(settings, bus, pool, ApprovalDesk(pool, decision_signer(settings)))),
            base_url="http://testserver")
        async with client:
            await sign_in(client, "bob", "pw-bob")
            page = (await client.get("/models")).text
        section = page[page.index(f'id="shadow-{challenger}-{champion}"'):]
        assert "challenger better: promotion proposed" in section and f"{d.pairs:,} of 2,000 labelled pairs" in section
        assert "decision boundary 0" in section and "decides at" in section and section.count("<svg") >= 2
        assert f'href="/incidents/{decided.id}"' in section
    finally:
        await pool.close()


async def test_a_no_difference_challenger_is_never_promoted_and_ends_inconclusive_across_a_restart(
        settings, bus, watch, database_url, registries):
    store, champion, challenger = registries["same"]
    settings = await stage(settings, database_url, store, shadow_max_pairs=500)
    pool = await connect_pool(database_url, max_size=4)
    requests, labels = requests_and_labels(settings.model_name, 700, seed=5)
    try:
        async with shadowing_worker(settings, bus):
            await bus.publish_many(requests)
            await watch.wait(PredictionShadowed, n=len(requests), timeout=60)
        async with running_monitor(settings, bus, pool) as monitor:
            await bus.publish_many(labels[:300])
            await _until(lambda: monitor.last_seq >= 2 * len(requests) + 300)
        [state] = await pool.fetch("SELECT state, decision FROM shadow_tests")
        assert state["decision"] is None and '"pairs": 300' in state["state"]
        # A new monitor process resumes the test from PostgreSQL: the budget counts the pairs before the restart.
        async with running_monitor(settings, bus, pool) as monitor:
            await bus.publish_many(labels[300:])
            [decided] = await watch.wait(ModelShadowDecided, timeout=60)
            await _until(lambda: monitor.last_seq >= 2 * len(requests) + len(labels))
        d = decided.data
        assert (d.decision, d.pairs, d.budget) == ("inconclusive", 500, 500)
        assert d.statistic < d.threshold and d.difference_lower <= 0 <= d.difference_upper
        assert decided.causation_id == labels[499].id  # the 500th pair decided
        await asyncio.sleep(1.0)
        assert len(watch.of(ModelShadowDecided)) == 1 and not watch.of(ApprovalRequested)
        assert "within the budget of 500 labelled pairs" in d.reason
        code, story = await cli(settings, "audit", "replay", "--correlation", decided.id)
        assert code == 0 and "inconclusive" in story, story
    finally:
        await pool.close()


async def _until(check, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.1)
