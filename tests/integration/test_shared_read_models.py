"""Shared read models against real servers: the stream reader, users, and the approval decision rules."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.approvals import book
from agent.approvals import rules as approvals
from agent.approvals.read import pending
from infra.keys import Signer
from infra.stream_reader import read_stream
from infra.users import add_user, authenticate, get_user
from schemas import AlertRaised, ApprovalRequested, PredictionRequested
from schemas.action import ActionSpec
from schemas.envelope import utcnow

pytestmark = pytest.mark.integration
SIGNER = Signer(Ed25519PrivateKey.generate())


def alert(i: int) -> AlertRaised:
    return AlertRaised(source="t", subject="m", data=dict(kind="data_drift", model="m", fingerprint=f"f{i}",
                                                          statistic="psi", value=0.4, threshold=0.2, detector="psi"))


async def test_read_stream_in_order_with_filters_and_start(bus):
    alerts = [alert(i) for i in range(25)]
    await bus.publish_many(alerts)
    await bus.publish(PredictionRequested(source="t", subject="m", data={"request_id": "r", "features": {}}))
    seen = [m async for m in read_stream(bus.js, "AUDIT", batch=7)]
    assert [m.seq for m in seen] == list(range(1, 26))
    assert [m.headers["Nats-Msg-Id"] for m in seen] == [a.id for a in alerts]
    tail = [m.seq async for m in _seqs(read_stream(bus.js, "AUDIT", start_seq=20))]
    assert tail == list(range(20, 26))
    assert [m async for m in read_stream(bus.js, "DLQ")] == []
    only = [m async for m in read_stream(bus.js, "AUDIT", subjects=("driftline.approval.>",))]
    assert only == []


async def _seqs(it):
    async for m in it:
        yield m


def request_event(requested_by="agent", minutes=30, tier="one_approver") -> ApprovalRequested:
    action = ActionSpec(action_id="a1", kind="retrain_model", model="m", params={"rows": 10}, tier=tier)
    return ApprovalRequested(source="agent/gate", subject="m", data=dict(
        approval_id="ap1", action=action, action_hash=approvals.action_hash(action), requested_by=requested_by,
        summary="retrain", expires_at=utcnow() + timedelta(minutes=minutes)))


async def test_users_and_the_approvals_owner_writing_rows_with_their_announcements(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        one_time = await add_user(conn, "ada", "approver")
        await add_user(conn, "vic", "viewer", password="pw-vic-123")
        with pytest.raises(ValueError, match="exists already"):
            await add_user(conn, "ada", "admin")
        assert (await authenticate(conn, "ada", one_time)).role == "approver"
        assert await authenticate(conn, "ada", "wrong") is None
        assert await authenticate(conn, "nobody", "x") is None
        ada, vic = await get_user(conn, "ada"), await get_user(conn, "vic")

        event = request_event(requested_by="ada")
        assert await book.record_request(conn, event)
        assert not await book.record_request(conn, event)  # idempotent
        h = event.data.action_hash
        now = utcnow()
        assert (await book.decide(conn, "ap1", vic, "approve", h, now, signer=SIGNER)).refusal.reason == "not_allowed"
        assert (await book.decide(conn, "ap1", ada, "approve", h, now, signer=SIGNER)).refusal.reason == "self_approval"
        assert (await book.decide(conn, "ap1", None, "approve", h, now, signer=SIGNER)).refusal.reason == "not_allowed"
        await add_user(conn, "bob", "approver")
        bob = await get_user(conn, "bob")
        assert (await book.decide(conn, "ap1", bob, "approve", "0" * 64, now, signer=SIGNER)).refusal.reason == "action_changed"
        late = await book.decide(conn, "ap1", bob, "approve", h, now + timedelta(hours=1), signer=SIGNER)
        assert late.refusal.reason == "expired"
        done = await book.decide(conn, "ap1", bob, "approve", h, now, signer=SIGNER, comment="ok", via="cli")
        assert done.refusal is None and done.row["status"] == "approved" and done.row["decided_by"] == "bob"
        assert (await book.decide(conn, "ap1", bob, "reject", h, now, signer=SIGNER)).refusal.reason == "already_decided"
        assert await pending(conn) == []
        types = [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY id")]
    finally:
        await conn.close()
    # The request, one refusal per signed-in attempt (the anonymous one is not written), the decision and
    # what it sets off, in the order they happened.
    assert types == ["driftline.approval.requested.v1"] + ["driftline.approval.refused.v1"] * 4 + [
        "driftline.approval.decided.v1", "driftline.action.scheduled.v1", "driftline.approval.refused.v1"]


async def test_pending_requests_expire_and_are_escalated(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        await book.record_request(conn, request_event(minutes=1))
        assert len(await pending(conn)) == 1
        assert await book.expire_due(conn, utcnow()) == []
        expired = await book.expire_due(conn, utcnow() + timedelta(minutes=2))
        assert [r["approval_id"] for r in expired] == ["ap1"] and expired[0]["status"] == "expired"
        types = [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY id")]
    finally:
        await conn.close()
    assert types == ["driftline.approval.requested.v1", "driftline.approval.expired.v1",
                     "driftline.action.escalated.v1"]
