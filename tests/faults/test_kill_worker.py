"""Two inference worker processes share one durable consumer; one is killed with SIGKILL mid-batch under load."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest

from infra.stream_reader import read_stream
from schemas import PredictionMade, PredictionRequested
from tests.faults.harness import PublishLoop, Tally, eventually
from tests.faults.services import ServiceProcess, service_env
from tests.model_fixtures import breast_cancer_frame

pytestmark = pytest.mark.integration

TOTAL = 4_000


async def made_count(bus) -> int:
    info = await bus.js.stream_info("PREDICTIONS", subjects_filter=PredictionMade.topic)
    return (info.state.subjects or {}).get(PredictionMade.topic, 0)


async def test_worker_killed_mid_batch_answers_every_request_once(bus, model_settings, tmp_path):
    settings = model_settings
    rows = breast_cancer_frame().drop(columns="target").to_dict("records")

    def make(i: int) -> PredictionRequested:
        return PredictionRequested(source="faults", subject=settings.model_name, data={
            "request_id": f"r{i}", "model": settings.model_name, "features": rows[i % len(rows)]})

    env = service_env(settings, DRIFTLINE_WORKER_BATCH="100")
    victim, survivor = (ServiceProcess("worker", env, tmp_path, label) for label in ("worker-a", "worker-b"))
    loop = PublishLoop(bus, make, chunk=100)
    victim.start()
    survivor.start()
    publishing = None
    try:
        # Publish only once both processes pull (3 loops each): then requests keep arriving while the victim is
        # frozen and killed, instead of a backlog the two may have finished before the kill.
        await eventually(lambda: _pulling(bus, 6), 180, "both workers pulling")
        publishing = asyncio.create_task(loop.run(TOTAL, pace=0.05))
        killed_at = await eventually(lambda: _at_least(made_count(bus), 1000), 120, "the workers answering")
        # Freeze the victim first: its pull requests, still open at the server, fill with requests it can no
        # longer answer, so the SIGKILL surely cuts batches in hand. A kill alone could land between two batches
        # (the worker answers a batch in a few ms) and then prove nothing about redelivery.
        victim.proc.send_signal(signal.SIGSTOP)
        await asyncio.sleep(0.5)
        victim.kill()
        # The other process shares the durable consumer: it goes on alone, and takes the killed batches over
        # once their ack wait expires.
        await eventually(lambda: _at_least(made_count(bus), killed_at + 1000), 120, "the survivor answering alone")
        await publishing
        victim.start()
        restarted = time.monotonic()
        await eventually(lambda: _at_least(made_count(bus), TOTAL), 180, "every request answered after the restart")
        recovery_s = round(time.monotonic() - restarted, 1)
        await eventually(lambda: _settled(bus), 60, "nothing pending or awaiting an ack")
        info = await bus.js.consumer_info("REQUESTS", "inference-worker")
    finally:
        if publishing and not publishing.done():
            publishing.cancel()
        victim.stop()
        survivor.stop()
    answers: Counter = Counter()  # request id -> stored predictions answering it
    async for msg in read_stream(bus.js, "PREDICTIONS", subjects=(PredictionMade.topic,)):
        answers[PredictionMade.model_validate_json(msg.data).causation_id] += 1
    requested = set(loop.acked)
    lost = requested - set(answers)
    duplicated = [i for i, n in answers.items() if n > 1]
    redelivered = info.delivered.consumer_seq - TOTAL  # every delivery counts, a redelivery too
    Tally("inference worker SIGKILL mid-batch (1 of 2 processes)",
          injected=f"SIGKILL one of two workers after {killed_at} predictions, restart",
          published=TOTAL, acked=len(requested), processed=len(answers), lost=len(lost), duplicated=len(duplicated),
          extra={"redelivered": redelivered, "recovery_s": recovery_s}).report()
    assert not lost and not duplicated and len(answers) == TOTAL
    assert redelivered > 0  # the kill really cut batches in hand; they were delivered again


async def _at_least(value, n: int):
    got = await value
    return got if got >= n else 0


async def _pulling(bus, loops: int) -> bool:
    try:
        info = await bus.js.consumer_info("REQUESTS", "inference-worker")
    except Exception:  # not created yet
        return False
    return info.num_waiting >= loops


async def _settled(bus) -> bool:
    info = await bus.js.consumer_info("REQUESTS", "inference-worker")
    return info.num_pending == 0 and info.num_ack_pending == 0
