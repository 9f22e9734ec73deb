"""The audit projector against real servers: ordered, idempotent, insert-only, checkpointed; verify and rebuild."""

from __future__ import annotations

import asyncpg
import pytest

from consumers.audit.chain import GENESIS, chain_hash
from consumers.audit.rebuild import rebuild
from infra.db import connect_pool
from tests.integration.audit_helpers import incident, project_all, verify_trail
from tests.integration.db_faults import fail_first

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url):
    p = await connect_pool(database_url, max_size=4)
    yield p
    await p.close()


async def test_projects_in_order_with_checkpoints_and_verifies_clean(bus, pool, settings):
    await bus.publish_many(incident(n_alerts=8))  # 13 events -> checkpoints after 5 and 10 (and 15)
    await project_all(bus, pool, every=5, settings=settings)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM audit_log ORDER BY seq")
        incidents = await conn.fetch("SELECT * FROM audit_incidents")
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    prev = GENESIS
    for r in rows:
        assert r["prev_hash"] == prev and r["hash"] == chain_hash(prev, r["canonical"])
        prev = r["hash"]
    checkpoints = [r for r in rows if r["type"] == "driftline.audit.checkpoint.v1"]
    assert len(checkpoints) >= 2
    # The first checkpoint vouches for sequence 5 with the hash stored there.
    assert '"last_sequence":5' in checkpoints[0]["canonical"]
    assert rows[4]["hash"] in checkpoints[0]["canonical"]
    [story] = [i for i in incidents if i["events"] == 12]
    assert story["status"] == "verifying" and story["model"] == "m"
    verdict = await verify_trail(bus, pool, settings)
    assert verdict.ok, verdict.text()
    assert verdict.checked == len(rows) and verdict.checkpoints == len(checkpoints)
    rebuilt = await rebuild(bus.js, pool)
    assert rebuilt.equal and rebuilt.events == len(rows), rebuilt.differences
    assert set(rebuilt.differences) == {"audit_log", "audit_incidents"}


async def test_redelivery_is_idempotent_and_a_gap_is_never_chained(bus, pool):
    await bus.publish_many(incident())
    projector = await project_all(bus, pool, every=0)
    async with pool.acquire() as conn:
        before = await conn.fetch("SELECT seq, hash FROM audit_log ORDER BY seq")

    class FakeMsg:
        def __init__(self, seq, data):
            self.subject, self.data = "driftline.alert.raised", data
            self.metadata = type("M", (), {"sequence": type("S", (), {"stream": seq})()})()
            self.acked = self.naked = False

        async def ack(self):
            self.acked = True

        async def nak(self, delay=None):
            self.naked = True

    again = [FakeMsg(2, b'{"id":"x"}'), FakeMsg(len(before) + 2, b'{"id":"y"}')]
    step = await projector.handle(again)
    assert again[0].acked and again[1].naked and not step.links  # old one acked, the early one waits
    async with pool.acquire() as conn:
        assert await conn.fetch("SELECT seq, hash FROM audit_log ORDER BY seq") == before


async def test_the_log_is_insert_only(bus, pool):
    await bus.publish_many(incident())
    await project_all(bus, pool, every=0)
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError, match="insert-only"):
            await conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
        with pytest.raises(asyncpg.PostgresError, match="insert-only"):
            await conn.execute("DELETE FROM audit_log WHERE seq = 2")
        with pytest.raises(asyncpg.PostgresError, match="insert-only"):
            await conn.execute("TRUNCATE audit_log")


TAMPERING = {
    "byte_changed": ("UPDATE audit_log SET canonical = replace(canonical, '\"value\":0.4', '\"value\":0.5') "
                     "WHERE seq = 1", 1, "stored event differs"),
    "row_deleted": ("DELETE FROM audit_log WHERE seq = 4", 4, "missing in PostgreSQL"),
    "rows_swapped": ("""UPDATE audit_log a SET event_id = b.event_id, type = b.type, canonical = b.canonical,
                            correlation_id = b.correlation_id, prev_hash = b.prev_hash, hash = b.hash
                        FROM (SELECT * FROM audit_log WHERE seq IN (3, 4)) b
                        WHERE a.seq IN (3, 4) AND b.seq = 7 - a.seq""", 3, "stored event differs"),
    "tail_dropped_after_checkpoint": ("DELETE FROM audit_log WHERE seq > 5", 6, "although the projector had written"),
    "hash_rewritten": ("UPDATE audit_log SET hash = repeat('a', 64) WHERE seq = 5", 5, "stored hash"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
async def test_verify_names_the_first_tampered_sequence(bus, pool, settings, database_url, case):
    await bus.publish_many(incident(n_alerts=6))  # 11 events, then checkpoints for sequences 5 and 10
    await project_all(bus, pool, every=5, settings=settings)
    assert (await verify_trail(bus, pool, settings)).ok
    sql, bad_seq, words = TAMPERING[case]
    # A superuser can switch the trigger off; the chain still gives the tampering away.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute(sql)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    finally:
        await conn.close()
    verdict = await verify_trail(bus, pool, settings)
    assert not verdict.ok
    assert verdict.bad_seq == bad_seq, verdict.text()
    assert words in verdict.problem


async def test_a_projector_that_lags_is_not_tampering(bus, pool, settings):
    await bus.publish_many(incident())
    await project_all(bus, pool, every=0)
    await bus.publish_many(incident(model="later"))  # not projected yet
    verdict = await verify_trail(bus, pool, settings)
    assert verdict.ok and verdict.unprojected == len(incident()), verdict.text()
    assert "not projected yet" in verdict.text()


async def test_a_failed_write_is_retried_by_the_runner_and_an_unreadable_message_is_chained(bus, pool, settings):
    # The first write fails: the runner naks the batch with backoff and the redelivery is written; bytes that are
    # no event are chained, never dead-lettered.
    await fail_first(pool, "audit_writes", "BEFORE INSERT ON audit_log FOR EACH STATEMENT", "disk full")
    events = incident(n_alerts=2)
    await bus.publish_many(events)
    await bus.publish_raw("driftline.alert.raised", b"not an event", {"Nats-Msg-Id": "garbage-1"})
    await project_all(bus, pool, every=0)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT nextval('audit_writes_calls')") > 2  # it failed once, then wrote
        types = [r["type"] for r in await conn.fetch("SELECT type FROM audit_log ORDER BY seq")]
    assert types == [e.type for e in events] + ["invalid"]
    assert (await bus.js.stream_info("DLQ")).state.messages == 0
    assert (await verify_trail(bus, pool, settings)).ok
