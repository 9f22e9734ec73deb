"""Shared by the audit tests: events of a small incident, and running the projector until it caught up."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.approvals import rules as approvals
from consumers.audit import fold
from consumers.audit.anchor import Anchor
from consumers.audit.projector import Projector
from consumers.audit.signing import checkpoint_keyring, checkpoint_signer
from consumers.audit.verify import Verdict, verify
from infra.keys import Signer
from infra.settings import Settings
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


def signer_and_anchor(settings: Settings | None) -> tuple[Signer, Anchor | None]:
    """The projector's key and anchor in the settings' data directory (as `driftline serve projector` finds them);
    without settings, a key of its own and no anchor (for tests that take no checkpoint)."""
    if settings is None:
        return Signer(Ed25519PrivateKey.generate()), None
    return checkpoint_signer(settings), Anchor(settings.anchor_dir)


async def verify_trail(bus, pool, settings: Settings, durable: str = "audit-projector") -> Verdict:
    """`audit verify` as the command runs it: the public keys and the anchor of the settings' data directory."""
    return await verify(bus.js, pool, durable, keyring=checkpoint_keyring(settings), anchor=Anchor(settings.anchor_dir))


async def project_all(bus, pool, every: int = 5, durable: str = "audit-projector",
                      settings: Settings | None = None) -> Projector:
    """Run the projector until the whole stream (checkpoints included) is in PostgreSQL, then stop it."""
    signer, anchor = signer_and_anchor(settings)
    projector = Projector(bus, pool, signer, anchor=anchor, durable=durable, checkpoint_every=every, max_wait=0.05)
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
