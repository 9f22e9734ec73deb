"""nats-server killed with SIGKILL during a publish loop (sync_interval: always), then restarted."""

from __future__ import annotations

import asyncio

import pytest

from infra.bus import Bus
from infra.streams import ensure_streams
from schemas import PredictionRequested
from tests.faults.harness import PublishLoop, Tally, eventually, stored_ids

pytestmark = pytest.mark.integration

TOTAL = 3000


async def test_every_acknowledged_event_survives_a_server_crash(nats_server, settings):
    assert nats_server.sync_interval == "always"
    bus = await Bus.connect(nats_server.url, name="faults-publisher", credential=nats_server.auth.seed_file("operator"))
    try:
        await ensure_streams(bus.js, settings)
        loop = PublishLoop(bus, chunk=25)
        publishing = asyncio.create_task(loop.run(TOTAL))
        await eventually(lambda: len(loop.acked) >= TOTAL // 3, 60, "a third of the events acknowledged")
        acked_before_kill = len(loop.acked)
        nats_server.kill()
        await asyncio.sleep(1.0)  # the publisher keeps trying against a dead server
        nats_server.start()
        async with asyncio.timeout(120):
            await publishing
        stored = await stored_ids(bus, "REQUESTS", PredictionRequested.topic)
        reconnects = bus.nc.stats["reconnects"]
    finally:
        await bus.close()

    lost = set(loop.acked) - set(stored)
    duplicated = [i for i, n in stored.items() if n > 1]
    Tally("nats-server SIGKILL + restart", injected=f"SIGKILL after {acked_before_kill} acks, restart after 1s",
          published=loop.attempts, acked=len(loop.acked), processed=len(stored), lost=len(lost),
          duplicated=len(duplicated), extra={"retry_rounds": loop.failed_rounds, "reconnects": reconnects}).report()
    assert len(loop.acked) == TOTAL
    assert not lost
    assert not duplicated
    # The crash really cut the publisher off. Whether a round then failed depends on the moment: publishes sent
    # into nats-py's reconnect buffer are acknowledged after the restart, within the round's ack timeout.
    assert reconnects >= 1
