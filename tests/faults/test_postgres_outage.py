"""PostgreSQL stopped mid-batch: the consumer naks instead of acking, and catches up once it is back."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from infra.db import migrate
from infra.postgres_server import EmbeddedPostgres
from infra.processes import free_port
from infra.settings import Settings
from tests.faults.harness import PublishLoop, Tally, effect_counts, eventually, start_effect_worker, stop_process

pytestmark = pytest.mark.integration

TOTAL, OUTAGE_S = 3000, 4.0


@pytest.fixture
async def own_postgres(tmp_path):
    """A PostgreSQL of this test alone, since the test stops it."""
    server = EmbeddedPostgres(tmp_path / "pg", port=free_port(), database="driftline")
    dsn = server.start()
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield server
    server.stop()


async def count_effects(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM effects")
    finally:
        await conn.close()


async def test_consumer_naks_while_postgres_is_down_and_catches_up(bus, nats_server, own_postgres):
    dsn = own_postgres.dsn()
    defaults = Settings.model_fields  # the production retry policy, not a test-friendly one
    loop = PublishLoop(bus, chunk=200)
    await loop.run(TOTAL)
    worker = await start_effect_worker(
        [nats_server.url], dsn, "f-pg", "--credential", str(nats_server.auth.seed_file("operator")), "--sleep", "0.002",
        "--max-deliver", str(defaults["max_deliver"].default),
        "--backoff", ",".join(str(b) for b in defaults["backoff_s"].default),
    )
    try:
        await eventually(lambda: count_effects(dsn), 60, "the worker started writing effects")
        await eventually(lambda: _at_least(count_effects(dsn), TOTAL // 5), 60, "a fifth of the effects")
        own_postgres.stop()  # fast shutdown: open transactions are cut mid-batch
        await asyncio.sleep(OUTAGE_S)
        during = await bus.js.consumer_info("REQUESTS", "f-pg")
        dead_during = (await bus.js.stream_info("DLQ")).state.messages
        own_postgres.start()
        await eventually(lambda: _at_least(count_effects(dsn), TOTAL), 120, "every event processed after the outage")
        await eventually(lambda: _no_ack_pending(bus), 30, "nothing left unacknowledged")
    finally:
        stop_process(worker)

    conn = await asyncpg.connect(dsn)
    try:
        # Everything the consumer acknowledged up to the end of the outage had its effect before the outage.
        before_restart = {r["event_id"] for r in await conn.fetch(
            "SELECT event_id FROM effects WHERE created_at < pg_postmaster_start_time()")}
        redelivered = await conn.fetchval("SELECT count(DISTINCT event_id) FROM deliveries WHERE attempt > 1")
    finally:
        await conn.close()
    acked_during = {i for i, seq in loop.acked.items() if seq <= during.ack_floor.stream_seq}
    effects = await effect_counts(dsn)
    lost = set(loop.acked) - set(effects)
    duplicated = [i for i, n in effects.items() if n > 1]
    Tally("PostgreSQL stopped mid-batch", injected=f"fast shutdown for {OUTAGE_S:.0f}s after {len(before_restart)} "
          "effects", published=TOTAL, acked=len(loop.acked), processed=len(effects), lost=len(lost),
          duplicated=len(duplicated), extra={"acked_before_restart": len(acked_during),
                                             "redelivered_events": redelivered, "dead_lettered": dead_during}).report()
    assert not lost and not duplicated and len(effects) == TOTAL
    assert acked_during <= before_restart  # nothing was acknowledged without its effect
    assert len(acked_during) < TOTAL and during.num_redelivered > 0  # the outage held work back and caused naks
    assert dead_during == 0  # a short outage is retried, not dead-lettered


async def _at_least(value, n: int) -> bool:
    return (await value) >= n


async def _no_ack_pending(bus) -> bool:
    info = await bus.js.consumer_info("REQUESTS", "f-pg")
    return info.num_ack_pending == 0 and info.num_pending == 0

