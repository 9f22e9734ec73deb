"""The audit projector killed with SIGKILL mid-batch under load: the read model equals the stream afterwards."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from infra.db import connect_pool
from schemas import AlertRaised
from schemas.streams import AUDIT
from tests.faults.harness import PublishLoop, Tally, eventually
from tests.faults.services import ServiceProcess, service_env

pytestmark = pytest.mark.integration

TOTAL, DURABLE = 5_000, "audit-projector"


def alert(i: int) -> AlertRaised:
    return AlertRaised(source="faults", subject="m", data=dict(kind="data_drift", model="m", fingerprint=f"f{i}",
                                                               statistic="psi", value=0.4, threshold=0.2,
                                                               detector="psi"))


async def rows(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM audit_log")
    finally:
        await conn.close()


async def caught_up(bus, dsn: str) -> bool:
    last = (await bus.js.stream_info(AUDIT.name)).state.last_seq
    info = await bus.js.consumer_info(AUDIT.name, DURABLE)
    conn = await asyncpg.connect(dsn)
    try:
        head = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM audit_log")
    finally:
        await conn.close()
    return head == last and info.num_pending == 0 and info.num_ack_pending == 0


async def test_projector_killed_mid_batch_keeps_the_chain_equal_to_the_stream(bus, settings, database_url, tmp_path):
    from consumers.audit.rebuild import rebuild
    from tests.integration.audit_helpers import verify_trail

    projector = ServiceProcess("projector", service_env(settings, database_url,
                                                        DRIFTLINE_AUDIT_CHECKPOINT_EVERY="500"), tmp_path)
    loop = PublishLoop(bus, alert, chunk=100)
    publishing = asyncio.create_task(loop.run(TOTAL, pace=0.01))
    projector.start()
    try:
        await eventually(lambda: _at_least(rows(database_url), 1000), 120, "the projector writing the chain")
        projector.kill()
        unacked_at_kill = (await bus.js.consumer_info(AUDIT.name, DURABLE)).num_ack_pending
        killed_at = await rows(database_url)
        await publishing
        projector.start()
        restarted = time.monotonic()
        await eventually(lambda: caught_up(bus, database_url), 240, "the projector caught up after the restart")
        recovery_s = round(time.monotonic() - restarted, 1)
    finally:
        projector.stop()

    pool = await connect_pool(database_url, max_size=2, run_migrations=False)
    try:
        verdict = await verify_trail(bus, pool, settings)
        rebuilt = await rebuild(bus.js, pool)
        async with pool.acquire() as conn:
            stored = {r["event_id"]: r["n"] for r in await conn.fetch(
                "SELECT event_id, count(*) AS n FROM audit_log GROUP BY event_id")}
            checkpoints = await conn.fetchval(
                "SELECT count(*) FROM audit_log WHERE type = 'driftline.audit.checkpoint.v1'")
    finally:
        await pool.close()
    stream = (await bus.js.stream_info(AUDIT.name)).state.messages
    lost = set(loop.acked) - set(stored)
    duplicated = [i for i, n in stored.items() if n > 1]
    Tally("audit projector SIGKILL mid-batch", injected=f"SIGKILL after {killed_at} rows, restart",
          published=TOTAL, acked=len(loop.acked), processed=len(stored), lost=len(lost), duplicated=len(duplicated),
          extra={"unacked_at_kill": unacked_at_kill, "recovery_s": recovery_s, "stream_messages": stream,
                 "checkpoints": checkpoints, "verify": verdict.text(), "rebuild_differences": rebuilt.differences}).report()
    assert unacked_at_kill > 0  # the kill cut a batch in hand
    assert verdict.ok, verdict.text()
    assert not verdict.rejected and verdict.anchored == verdict.checkpoints == checkpoints  # signed, and anchored
    assert rebuilt.equal, rebuilt.differences
    assert not lost and not duplicated and sum(stored.values()) == stream
    assert checkpoints == stream // 500 or checkpoints == (stream - 1) // 500  # each due checkpoint exactly once


async def _at_least(value, n: int):
    got = await value
    return got if got >= n else 0
