"""1,000 poison messages mixed into 10,000 good ones: each poison message in the DLQ with its reason."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from infra.bus import MSG_ID
from infra.consumer import ConsumerRunner, ConsumerSpec, Rejected
from infra.stream_reader import read_stream
from schemas import PredictionRequested
from tests.faults.harness import Tally, eventually, request

pytestmark = pytest.mark.integration

GOOD, POISON = 10_000, 1_000
DURABLE = "f-poison"


def poison(i: int, kind: str) -> bytes:
    """Three kinds: not JSON, JSON that breaks the schema, and a valid event the handler can never serve."""
    if kind == "not-json":
        return b"\xff\xfe not json " + str(i).encode()
    if kind == "invalid":
        return b'{"type": "driftline.prediction.requested.v1", "id": "p%d", "data": {"features": 5}}' % i
    return request(1_000_000 + i, poison=1.0).to_bytes()


EXPECTED_REASON = {"not-json": "not JSON", "invalid": "invalid driftline.prediction.requested.v1",
                   "rejected": "rejected: poison feature"}


async def test_poison_messages_are_dead_lettered_with_their_reason(bus):
    rng = random.Random(9)
    kinds = ["not-json"] * 400 + ["invalid"] * 300 + ["rejected"] * 300
    plan = [("good", i) for i in range(GOOD)] + [(kind, i) for i, kind in enumerate(kinds)]
    rng.shuffle(plan)
    good_ids, poison_seq = set(), {}
    futures = []
    for kind, i in plan:
        if kind == "good":
            ev = request(i)
            good_ids.add(ev.id)
            data, msg_id = ev.to_bytes(), ev.id
        else:
            data, msg_id = poison(i, kind), f"poison-{i}"
        futures.append((kind, await bus.js.publish_async(PredictionRequested.topic, data, headers={MSG_ID: msg_id})))
    for kind, fut in futures:
        ack = await asyncio.wait_for(fut, 30)
        if kind != "good":
            poison_seq[ack.seq] = kind

    effects: Counter = Counter()

    async def handle(batch):
        """Checks every item before any effect, so a rejected batch leaves nothing half done."""
        for item in batch:
            if item.event.data.features.get("poison"):
                raise Rejected("poison feature")
        for item in batch:
            effects[item.event.id] += 1

    spec = ConsumerSpec(DURABLE, "REQUESTS", (PredictionRequested.topic,), batch=200, max_wait=0.2)
    runner = ConsumerRunner(bus, spec, handle)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await eventually(lambda: len(effects) >= GOOD, 180, "every good event processed")
        await eventually(lambda: _settled(runner), 60, "nothing pending or awaiting an ack")
        await eventually(lambda: _dlq_count(bus, POISON), 60, "every poison message in the DLQ")
    finally:
        stop.set()
        await task

    reasons = {}
    async for msg in read_stream(bus.js, "DLQ", subjects=(f"driftline.dlq.{DURABLE}",)):
        reasons[int(msg.headers["Driftline-Origin"].split(":")[1])] = msg.headers["Driftline-Error"]
    missing = set(poison_seq) - set(reasons)
    wrong = {seq: reasons[seq] for seq, kind in poison_seq.items()
             if seq in reasons and not reasons[seq].startswith(EXPECTED_REASON[kind])}
    duplicated = [i for i, n in effects.items() if n > 1]
    Tally("poison messages", injected=f"{POISON} poison ({dict(Counter(kinds))}) among {GOOD} good",
          published=GOOD + POISON, acked=len(futures), processed=len(effects), lost=len(good_ids - set(effects)),
          duplicated=len(duplicated), extra={"dead_lettered": len(reasons), "missing_in_dlq": len(missing),
                                             "wrong_reason": len(wrong)}).report()
    assert set(effects) == good_ids and not duplicated
    assert not missing and not wrong and len(reasons) == POISON
    assert await runner.pending() == (0, 0)


async def _settled(runner: ConsumerRunner) -> bool:
    return await runner.pending() == (0, 0)


async def _dlq_count(bus, n: int) -> bool:
    return (await bus.js.stream_info("DLQ")).state.messages >= n
