"""Shared by the audit tests: events of a small incident, and running the projector until it caught up."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from agent.approvals import rules as approvals
from consumers.audit import fold
from consumers.audit.projector import Projector
from schemas import AlertRaised, ApprovalDecided, ApprovalRequested
from schemas.action import ActionCompleted, ActionScheduled, ActionSpec
from schemas.envelope import utcnow
from schemas.streams import AUDIT


def incident(n_alerts: int = 3, model: str = "m") -> list:
    """Alerts, then a request, a decision, a scheduled and a completed action of one correlation id."""
    first = AlertRaised(source="monitor", subject=model, data=dict(
        kind="data_drift", model=model, fingerprint="f0", statistic="psi", value=0.4, threshold=0.2, detector="psi"))
    events = [first] + [first.caused(AlertRaised, source="monitor", key=str(i), data=dict(
        kind="data_drift", model=model, fingerprint=f"f{i}", statistic="psi", value=0.3 + i, threshold=0.2,
        detector="psi")) for i in range(1, n_alerts)]
    action = ActionSpec(action_id="act-1", kind="retrain_model", model=model, params={"rows": 100}, tier="one_approver")
    req = first.caused(ApprovalRequested, source="agent/gate", data=dict(
        approval_id="ap-1", action=action, action_hash=approvals.action_hash(action), requested_by="agent",
        summary="retrain on fresh data", expires_at=utcnow() + timedelta(hours=1)))
    dec = req.caused(ApprovalDecided, source="ui", data=dict(
        approval_id="ap-1", decision="approve", decided_by="bob", action_hash=req.data.action_hash, comment="ok"))
    sch = dec.caused(ActionScheduled, source="agent/gate", data=dict(action=action, approved_by="bob",
                                                                     approval_id="ap-1"))
    done = sch.caused(ActionCompleted, source="agent/executor", data=dict(
        action_id="act-1", kind="retrain_model", model=model, summary="retrained v2"))
    return events + [req, dec, sch, done]


async def project_all(bus, pool, every: int = 5, durable: str = "audit-projector") -> Projector:
    """Run the projector until the whole stream (checkpoints included) is in PostgreSQL, then stop it."""
    projector = Projector(bus, pool, durable=durable, checkpoint_every=every, max_wait=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(projector.run(stop))
    try:
        while True:
            await asyncio.sleep(0.05)
            if task.done():
                task.result()
            last = (await bus.js.stream_info(AUDIT.name)).state.last_seq
            try:
                info = await bus.js.consumer_info(AUDIT.name, durable)
            except Exception:
                continue
            async with pool.acquire() as conn:
                head, _ = await fold.head(conn)
            if head == last and info.num_pending == 0 and info.num_ack_pending == 0:
                return projector
    finally:
        stop.set()
        await task
