"""Shared by the approval-page tests: an app on real servers, signing in, and a pending request."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from agent.approvals import book
from agent.approvals import rules as approvals
from infra.outbox import OutboxRelay
from schemas import ApprovalRequested
from schemas.action import ActionSpec
from schemas.envelope import utcnow

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    return TOKEN.search(html).group(1)


async def sign_in(client: httpx.AsyncClient, name: str, password: str) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    form = await client.get("/login")
    response = await client.post("/login", data={"username": name, "password": password,
                                                 "csrf_token": csrf_of(form.text), "next": "/"})
    assert response.status_code == 303, response.text
    return csrf_of((await client.get("/history")).text)


def request_event(approval_id: str = "ap-1", requested_by: str = "agent", model: str = "m",
                  kind: str = "retrain_model", tier: str = "one_approver", **extra) -> ApprovalRequested:
    action = ActionSpec(action_id=f"act-{approval_id}", kind=kind, model=model, params={"rows": 500}, tier=tier,
                        reason="drift")
    return ApprovalRequested(source="agent/gate", subject=model, data=dict(
        approval_id=approval_id, action=action, action_hash=approvals.action_hash(action), requested_by=requested_by,
        summary="Retrain on the last 500 labelled rows", predicted_impact="f1 back above 0.9",
        expires_at=utcnow() + timedelta(minutes=30), **extra))


async def pend(bus, pool, event: ApprovalRequested) -> None:
    """What the approval gate does: record the request with its announcement; then the relay publishes it."""
    async with pool.acquire() as conn:
        await book.record_request(conn, event)
    await flush_outbox(bus, pool)


async def flush_outbox(bus, pool) -> int:
    """Publish everything the outbox holds, as the agent's relay does; returns how many events."""
    relay, sent = OutboxRelay(bus, pool), 0
    async with pool.acquire() as conn:
        while n := await relay.publish_pending(conn):
            sent += n
    return sent
