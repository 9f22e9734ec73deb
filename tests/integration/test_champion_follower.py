"""The one champion follower (gateway, worker and monitor use it) on a real nats-server: which model events move
the champion, what it skips, a failing callback, and the alias poll."""

from __future__ import annotations

import asyncio

import pytest

from infra.champion import ChampionFollower
from schemas import ModelPromoted, ModelRolledBack, ModelTrained
from tests.integration.monitor_helpers import wait_for

pytestmark = pytest.mark.integration
MODEL = "driftline-classifier"


def promoted(version: str, *, promoted: bool = True, model: str = MODEL) -> ModelPromoted:
    return ModelPromoted(source="test", subject=model, data=dict(model=model, version=version, promoted=promoted,
                                                                  reason="better f1"))


async def test_the_follower_moves_on_promotions_and_rollbacks_only(bus):
    calls: list[tuple[str | None, str | None]] = []
    failed_once = []

    async def changed(version, cause):
        if version == "4" and not failed_once:  # a registry hiccup: logged, and the follower goes on
            failed_once.append(version)
            raise OSError("registry unreachable")
        calls.append((version, cause.id if cause else None))

    follower = ChampionFollower(bus, MODEL, changed, poll_s=3600)
    await follower.subscribe()
    stop = asyncio.Event()
    task = asyncio.create_task(follower.run(stop))
    try:
        before = promoted("1")
        await bus.publish(before)  # deliver-new: published after subscribing, so it counts
        moves = [promoted("2"), ModelRolledBack(source="test", subject=MODEL, data=dict(
            model=MODEL, from_version="2", to_version="1", reason="worse"))]
        skipped = [promoted("3", promoted=False), promoted("9", model="other-model"),
                   ModelTrained(source="test", subject=MODEL, data=dict(
                       model=MODEL, version="5", parent_run_id="r", best_family="lr", selection_metric="f1",
                       candidates=[], dataset="builtin", dataset_hash="h", split_seed=0))]
        await bus.publish_many([moves[0], *skipped])
        await bus.publish_raw(ModelPromoted.topic, b"{not json", {"Nats-Msg-Id": "garbage-1"})
        await bus.publish(promoted("4"))
        await bus.publish(moves[1])
        await wait_for(lambda: asyncio.sleep(0, len(calls) >= 3), timeout=20)
    finally:
        stop.set()
        await task
    assert calls == [("1", before.id), ("2", moves[0].id), ("1", moves[1].id)]
    assert failed_once == ["4"]


async def test_the_poll_asks_the_registry_when_no_event_comes(bus):
    calls = []

    async def changed(version, cause):
        calls.append((version, cause))

    stop = asyncio.Event()
    task = asyncio.create_task(ChampionFollower(bus, MODEL, changed, poll_s=0.2).run(stop))
    await wait_for(lambda: asyncio.sleep(0, len(calls) >= 2), timeout=10)
    stop.set()
    await asyncio.wait_for(task, 5)  # stops promptly
    assert set(calls) == {(None, None)}
