"""Signed checkpoints and the anchor against real servers: forgeries are reported and trusted for nothing; a rewrite
done with full bus and database access but without the checkpoint key is caught, with its sequence."""

from __future__ import annotations

import json

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.audit import fold, signing
from consumers.audit.anchor import Anchor
from consumers.audit.chain import GENESIS, link
from consumers.audit.projector import checkpoint_for
from infra.db import connect_pool
from infra.keys import Signer
from infra.stream_reader import read_stream
from infra.streams import ensure_streams
from schemas.audit import CHECKPOINT
from schemas.streams import AUDIT
from tests.integration.audit_helpers import incident, project_all, verify_trail

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(role_url):
    p = await connect_pool(role_url("projector"), max_size=4)  # the projector's own role, as in production
    yield p
    await p.close()


async def trail(bus, pool, settings, n_alerts: int = 8) -> list:
    """12 events (published before the projector starts: one batch), then the signed checkpoints for sequences 5 and
    10, stored as events 13 and 14."""
    await bus.publish_many(incident(n_alerts=n_alerts))
    await project_all(bus, pool, every=5, settings=settings)
    return [m async for m in read_stream(bus.js, AUDIT.name)]


def forged(data, msg_id: str) -> tuple[str, bytes, dict]:
    doc = {"specversion": "1.0", "id": msg_id, "type": "driftline.audit.checkpoint.v1", "source": "consumers/audit",
           "subject": "audit", "time": "2026-01-01T00:00:00Z", "data": data}
    return CHECKPOINT, json.dumps(doc).encode(), {"Nats-Msg-Id": msg_id}


async def test_checkpoints_are_signed_anchored_and_verified(bus, pool, settings):
    stored = await trail(bus, pool, settings)
    verdict = await verify_trail(bus, pool, settings)
    assert verdict.ok and not verdict.rejected, verdict.text()
    assert (verdict.checkpoints, verdict.anchored, verdict.vouched) == (2, 2, 10)
    anchored = Anchor(settings.anchor_dir).entries()
    assert [e.sequence for e in anchored] == [5, 10] and all(e.data["signature"] for e in anchored)
    assert [e.stored_at for e in anchored] == [13, 14] and len(stored) == 14
    checkpoint = json.loads(stored[12].data)
    assert checkpoint["data"]["key_id"] == signing.key_id(signing.checkpoint_signer(settings).public)
    assert "signed by key" in (await pool.fetchval("SELECT story FROM audit_log WHERE seq = 13"))


async def test_forged_and_malformed_checkpoints_are_reported_never_trusted_never_fatal(bus, pool, settings):
    await trail(bus, pool, settings)
    real = json.loads([m async for m in read_stream(bus.js, AUDIT.name)][12].data)["data"]
    mallory = Signer(Ed25519PrivateKey.generate())
    lies = [
        forged(None, "f-none"),  # no data at all (today: a crash of verify)
        forged({"last_sequence": "abc", "head_hash": 5}, "f-types"),  # wrong types (today: a crash of the projector)
        forged({**real, "signature": None}, "f-unsigned"),
        forged({**real, "head_hash": "0" * 64}, "f-altered"),  # a real signature over other content
        forged(signing.sign(mallory, 3, "1" * 64, 3).model_dump(), "f-own-key"),
        forged({**signing.sign(mallory, 10**9, "2" * 64, 10**9).model_dump(), "key_id": real["key_id"]}, "f-huge"),
    ]
    await bus.publish_raw_many(lies)
    await project_all(bus, pool, every=5, settings=settings)  # the projector chains them all and goes on
    for _ in range(2):  # and verify stays usable, run after run
        verdict = await verify_trail(bus, pool, settings)
        assert verdict.ok, verdict.text()
        assert [r.sequence for r in verdict.rejected] == [15, 16, 17, 18, 19, 20]
        assert verdict.vouched == 20 and verdict.checkpoints == 4  # the forged "10**9" vouches for nothing
    reasons = [r.reason for r in verdict.rejected]
    assert reasons[0].startswith("malformed") and "unknown key" in reasons[4] and "does not verify" in reasons[3]
    assert "REJECTED" in verdict.text()


async def test_a_forged_checkpoint_does_not_stop_the_real_one_being_recovered(bus, pool, settings):
    events = incident(n_alerts=3)  # 7 events: a checkpoint for sequence 5 is due
    await bus.publish_many(events)
    await project_all(bus, pool, every=0, settings=settings)  # projected, no checkpoint published (a crash)
    mallory = Signer(Ed25519PrivateKey.generate())
    await bus.publish_raw(*forged(signing.sign(mallory, 5, "3" * 64, 5).model_dump(), "f-due"))
    await project_all(bus, pool, every=5, settings=settings)  # restart: recover_checkpoint publishes the real one
    verdict = await verify_trail(bus, pool, settings)
    assert verdict.ok and verdict.checkpoints == 1 and verdict.anchored == 1, verdict.text()
    assert [r.sequence for r in verdict.rejected] == [8]


async def rewrite(bus, settings, database_url, change, keep_checkpoints: bool = True, extra=()) -> None:
    """Mallory with full bus and database access, no checkpoint key: a new AUDIT stream with `change` applied to
    every event document, and a PostgreSQL chain re-hashed to match it (insert-only triggers switched off)."""
    old = [m async for m in read_stream(bus.js, AUDIT.name)]
    await bus.js.delete_stream(AUDIT.name)
    await ensure_streams(bus.js, settings)
    kept = [(m.subject, m.data) for m in old if keep_checkpoints or m.subject != CHECKPOINT]
    messages = [(s, json.dumps(change(json.loads(d))).encode() if s != CHECKPOINT else d, {}) for s, d in kept]
    await bus.publish_raw_many([*messages, *extra])
    links, prev = [], GENESIS
    async for msg in read_stream(bus.js, AUDIT.name):
        links.append(link(msg.seq, msg.subject, msg.data, prev))
        prev = links[-1].hash
    conn = await asyncpg.connect(database_url)  # the admin: owner of the table
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            await conn.execute("DELETE FROM audit_log")
            await conn.execute("DELETE FROM audit_incidents")
            await fold.write(conn, links)
            await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    finally:
        await conn.close()


def bob_to_mallory(doc: dict) -> dict:
    if isinstance(doc.get("data"), dict) and doc["data"].get("decided_by") == "bob":
        doc["data"]["decided_by"] = "mallory"
    return doc


async def test_a_consistent_rewrite_keeping_the_checkpoints_contradicts_a_signed_head(bus, pool, settings,
                                                                                       database_url):
    await trail(bus, pool, settings)
    await rewrite(bus, settings, database_url, bob_to_mallory)
    verdict = await verify_trail(bus, pool, settings)
    # The decision is event 10 (after 8 alerts and the request); the anchored head for sequence 10 gives it away.
    assert not verdict.ok and verdict.bad_seq == 10, verdict.text()
    assert "rewritten" in verdict.problem


async def test_a_rewrite_without_checkpoints_is_caught_by_the_anchor(bus, pool, settings, database_url):
    await trail(bus, pool, settings)
    await rewrite(bus, settings, database_url, bob_to_mallory, keep_checkpoints=False)
    verdict = await verify_trail(bus, pool, settings)
    assert not verdict.ok and verdict.bad_seq == 10 and "anchor's signed head for sequence 10" in verdict.problem


async def test_removing_only_the_checkpoint_messages_is_caught_by_the_anchor(bus, pool, settings, database_url):
    await trail(bus, pool, settings)
    await rewrite(bus, settings, database_url, lambda doc: doc, keep_checkpoints=False)  # every event as it was
    verdict = await verify_trail(bus, pool, settings)
    assert not verdict.ok and verdict.bad_seq == 13 and "stream ends at 12" in verdict.problem, verdict.text()


async def test_a_rewrite_with_checkpoints_signed_by_another_key_is_caught(bus, pool, settings, database_url):
    await trail(bus, pool, settings)
    mallory = Signer(Ed25519PrivateKey.generate())

    def resigned(doc: dict) -> dict:
        return bob_to_mallory(doc)

    await rewrite(bus, settings, database_url, resigned, keep_checkpoints=False)
    links, prev = [], GENESIS
    async for msg in read_stream(bus.js, AUDIT.name):
        links.append(link(msg.seq, msg.subject, msg.data, prev))
        prev = links[-1].hash
    own = checkpoint_for(links[9], 5, mallory)  # a checkpoint for the rewritten head, as the projector would make it
    await bus.publish(own)
    verdict = await verify_trail(bus, pool, settings)
    assert not verdict.ok and verdict.bad_seq == 10, verdict.text()


async def test_a_truncated_stream_and_a_lost_anchor_are_named(bus, pool, settings, database_url):
    stored = await trail(bus, pool, settings)
    await rewrite(bus, settings, database_url, lambda doc: doc, keep_checkpoints=False)
    short = [m async for m in read_stream(bus.js, AUDIT.name)][:4]
    await bus.js.delete_stream(AUDIT.name)
    await ensure_streams(bus.js, settings)
    await bus.publish_raw_many([(m.subject, m.data, {}) for m in short])
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("DELETE FROM audit_log WHERE seq > 4")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    finally:
        await conn.close()
    verdict = await verify_trail(bus, pool, settings)
    assert not verdict.ok and verdict.bad_seq == 5 and "stream ends at 4" in verdict.problem, verdict.text()
    assert len(stored) == 14
    # With the stream intact but the anchor gone, signed checkpoints point at what is missing.
    for path in settings.anchor_dir.iterdir():
        path.unlink()
    await bus.js.delete_stream(AUDIT.name)
    await ensure_streams(bus.js, settings)
    await bus.publish_raw_many([(m.subject, m.data, {}) for m in stored])
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("DELETE FROM audit_log")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    finally:
        await conn.close()
    await project_all(bus, pool, every=0, settings=settings)
    verdict = await verify_trail(bus, pool, settings)
    assert not verdict.ok and "anchor at" in verdict.problem and verdict.bad_seq == 13, verdict.text()


async def test_bad_anchor_entries_are_reported_and_the_key_can_be_rotated(bus, pool, settings):
    await trail(bus, pool, settings)
    anchor_dir = settings.anchor_dir
    (anchor_dir / "notes.txt").write_text("hello")
    (anchor_dir / f"{7:020d}.json").write_text("{not json")
    mallory = Signer(Ed25519PrivateKey.generate())
    (anchor_dir / f"{3:020d}.json").write_text(signing.sign(mallory, 3, "4" * 64, 3).model_dump_json())
    old, new = signing.rotate(settings)
    assert old != new
    await bus.publish_many(incident(n_alerts=8, model="after-rotation"))  # 13 more: heads for 15, 20, 25
    await project_all(bus, pool, every=5, settings=settings)  # a restarted projector signs with the new key
    verdict = await verify_trail(bus, pool, settings)
    assert verdict.ok, verdict.text()
    assert sorted((r.where, r.sequence) for r in verdict.rejected) == [("anchor", 0), ("anchor", 3), ("anchor", 7)]
    ids = {json.loads(e.data)["data"]["key_id"] async for e in _checkpoints(bus)}
    assert ids == {old, new} and verdict.checkpoints == 5 and verdict.anchored == 5


async def _checkpoints(bus):
    async for msg in read_stream(bus.js, AUDIT.name):
        if msg.subject == CHECKPOINT:
            yield msg
