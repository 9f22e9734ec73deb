"""change_config against real servers: an approved change is announced as driftline.config.changed and applied by
the owners' followers while they run; a process started later reads the last version; a bad value fails the action
and nothing is written, announced or applied."""

from __future__ import annotations

import asyncio

import pytest

from consumers.monitor.service import MonitorService
from inference.worker import InferenceWorker
from infra.db import connect_pool
from infra.runtime_config import ConfigFollower
from schemas import ActionCompleted, ActionFailed, ConfigChanged
from tests.integration.agent_helpers import Watch, approved_schedule
from tests.integration.test_agent_executor import executor, run_executor

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url):
    p = await connect_pool(database_url, max_size=4)
    yield p
    await p.close()


@pytest.fixture
async def watch(bus):
    w = await Watch().start(bus)
    yield w
    await w.stop()


async def _until(condition, timeout=10):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_an_approved_change_reaches_the_owners_and_a_restart_reads_the_last_version(bus, pool, settings, watch):
    worker = InferenceWorker(settings, bus, None)
    loop = worker.runner()
    monitor = MonitorService(settings, bus, pool)
    followers = [ConfigFollower(bus, "worker", worker.apply_config), ConfigFollower(bus, "monitor", monitor.apply_config)]
    stop = asyncio.Event()
    for f in followers:
        await f.start()
    tasks = [asyncio.create_task(f.run(stop)) for f in followers]
    try:
        first = await approved_schedule(pool, settings, "change_config", {"config": {
            "worker_batch": 40, "monitor_window_events": 300}}, action_id="c1")
        await bus.publish(first)
        await run_executor(bus, executor(bus, pool, settings).routes, lambda: watch.of(ActionCompleted))
        await _until(lambda: all(f.version == 1 for f in followers))
        assert (loop.spec.batch, loop.spec.max_wait) == (40, settings.worker_batch_wait_s)  # applied while running
        assert monitor.config.window.events == 300

        [event] = watch.of(ConfigChanged)
        d = event.data
        assert (d.version, d.approved_by, d.approval_id, d.action_id) == (1, "bob", first.data.approval_id, "c1")
        assert [(c.key, c.old, c.new, c.owner) for c in d.changes] == [
            ("monitor_window_events", settings.monitor_window_events, 300, "monitor"),
            ("worker_batch", settings.worker_batch, 40, "worker")]
        assert event.correlation_id == first.correlation_id

        second = await approved_schedule(pool, settings, "change_config", {"config": {"worker_batch": 8}},
                                         action_id="c2")
        await bus.publish(second)
        await run_executor(bus, executor(bus, pool, settings).routes, lambda: len(watch.of(ActionCompleted)) == 2)
        await _until(lambda: all(f.version == 2 for f in followers))
        assert loop.spec.batch == 8 and monitor.config.window.events == 300
        [_, latest] = watch.of(ConfigChanged)
        assert [(c.key, c.old, c.new) for c in latest.data.changes] == [("worker_batch", 40, 8)]
    finally:
        stop.set()
        await asyncio.gather(*tasks)

    restarted = InferenceWorker(settings, bus, None)  # a new process: it reads the stream's last change at start
    again = ConfigFollower(bus, "worker", restarted.apply_config)
    await again.start()
    assert again.version == 2 and restarted.spec.batch == 8


async def test_a_bad_value_fails_the_action_and_nothing_is_written_announced_or_applied(bus, pool, settings, watch):
    worker = InferenceWorker(settings, bus, None)
    follower = ConfigFollower(bus, "worker", worker.apply_config)
    stop = asyncio.Event()
    await follower.start()
    task = asyncio.create_task(follower.run(stop))
    try:
        bad = await approved_schedule(pool, settings, "change_config", {"config": {
            "worker_batch": 50, "monitor_window_events": 0}}, action_id="bad1")
        await bus.publish(bad)
        await run_executor(bus, executor(bus, pool, settings).routes, lambda: watch.of(ActionFailed))
        await asyncio.sleep(0.5)  # time for a wrongly announced change to arrive
    finally:
        stop.set()
        await task
    [failed] = watch.of(ActionFailed)
    assert "monitor_window_events=0" in failed.data.error and "nothing applied" in failed.data.error
    assert watch.of(ConfigChanged) == [] and follower.version == 0
    assert worker.spec.batch == settings.worker_batch  # the good key of a refused change is not applied either
    assert await pool.fetchval("SELECT count(*) FROM agent_config_versions") == 0
