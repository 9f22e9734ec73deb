"""The bus worker on a real nats-server: requests -> stored PredictionMade, replies, poison -> DLQ, acks settle."""

from __future__ import annotations

import asyncio

import pytest

from inference.model_holder import ModelHolder
from inference.worker import DURABLE, InferenceWorker
from infra.bus import REPLY_HEADER
from producers.publisher import request_and_wait, request_event
from schemas import PredictionFailed, PredictionMade, parse_event
from tests.integration.stored import stored
from tests.unit.inference.models import memory_model, records

pytestmark = pytest.mark.integration


async def running_worker(settings, bus, version="3", loops=2):
    holder = ModelHolder(settings)
    holder.swap(memory_model(version=version))
    worker = InferenceWorker(settings.model_copy(update={"worker_batch_wait_s": 0.05}), bus, holder)
    stop = asyncio.Event()
    runners = [worker.runner() for _ in range(loops)]
    for runner in runners:
        await runner.setup()
    tasks = [asyncio.create_task(r.run(stop)) for r in runners]
    return stop, tasks, runners[0]


async def test_requests_become_stored_predictions_and_replies_are_answered(settings, bus):
    stop, tasks, runner = await running_worker(settings, bus)
    try:
        requests = [request_event(r, model=settings.model_name, request_id=f"r{i}") for i, r in enumerate(records(40))]
        await bus.publish_many(requests)
        made = [parse_event(m.data) for m in await stored(bus, "driftline.prediction.made", 40)]
        answer = await request_and_wait(bus, records(1, start=100)[0], model=settings.model_name, request_id="sync-1")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert all(isinstance(e, PredictionMade) for e in made)
    assert sorted(e.data.request_id for e in made) == sorted(f"r{i}" for i in range(40))
    by_request = {e.data.request_id: e for e in made}
    for req in requests:
        assert by_request[req.data.request_id].causation_id == req.id
        assert by_request[req.data.request_id].data.model_version == "3"
    assert isinstance(answer, PredictionMade) and answer.data.request_id == "sync-1"
    assert answer.data.model_version == "3" and answer.data.channel == "bus"
    assert await runner.pending() == (0, 0)


async def test_poison_goes_to_the_dlq_with_a_failure_event_and_the_rest_is_answered(settings, bus):
    good = records(3)
    bad = dict(good[0])
    del bad["mean radius"]
    events = [request_event(good[0], model=settings.model_name, request_id="ok-1"),
              request_event(bad, model=settings.model_name, request_id="bad-features"),
              request_event(good[1], model="no-such-model", request_id="bad-model"),
              request_event(good[2], model=settings.model_name, request_id="ok-2")]
    inbox = bus.nc.new_inbox()
    replies = await bus.nc.subscribe(inbox)
    await bus.publish_many(events[:1])
    await bus.publish(events[1], headers={REPLY_HEADER: inbox})
    await bus.publish_many(events[2:])
    stop, tasks, runner = await running_worker(settings, bus, loops=1)
    try:
        made = await stored(bus, "driftline.prediction.made", 2)
        failed = await stored(bus, "driftline.prediction.failed", 2)
        dead = await stored(bus, f"driftline.dlq.{DURABLE}", 2)
        reply = parse_event((await replies.next_msg(timeout=10)).data)
        async with asyncio.timeout(10):
            while await runner.pending() != (0, 0):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert sorted(parse_event(m.data).data.request_id for m in made) == ["ok-1", "ok-2"]
    failures = {e.data.request_id: e for e in (parse_event(m.data) for m in failed)}
    assert set(failures) == {"bad-features", "bad-model"}
    assert failures["bad-features"].data.fields == ["mean radius"]
    assert "unknown model 'no-such-model'" in failures["bad-model"].data.error
    reasons = sorted(m.headers["Driftline-Error"] for m in dead)
    assert reasons[0].startswith("rejected: 1 invalid field(s): mean radius: field required")
    assert reasons[1].startswith("rejected: unknown model 'no-such-model'")
    assert isinstance(reply, PredictionFailed) and reply.data.request_id == "bad-features"
