"""The audit projector: every AUDIT message, strictly in stream order, into the hash-chained audit log."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

import asyncpg
from nats.aio.msg import Msg
from prometheus_client import Counter

from consumers.audit import fold, signing
from consumers.audit.anchor import Anchor, AnchorConflict
from consumers.audit.chain import Link, link, parse_document
from infra import metrics
from infra.bus import Bus
from infra.consumer import ConsumerSpec, RawBatchRunner
from infra.keys import Signer
from schemas.audit import AuditCheckpoint, Checkpoint
from schemas.envelope import derived_id
from schemas.streams import AUDIT

log = logging.getLogger(__name__)
UNTOLD = Counter("driftline_audit_untold_total", "Audit events chained and stored whose fields have the wrong types "
                 "(their story reads 'untold'; see the projector's log for their sequences).")
ANCHOR_FAILURES = Counter("driftline_audit_anchor_failures_total", "Signed checkpoint heads the projector could not "
                          "write into the anchor (audit_anchor_dir); see its log.")

SOURCE = "consumers/audit"
_LOCK_KEY = 7_263_540_050  # one writer at a time, even with several projector replicas
_NO_CAUSE = "00000000-0000-7000-8000-000000000000"


@dataclass
class Plan:
    """What one batch does: links to write, messages to ack, messages that came too early."""

    links: list[Link] = field(default_factory=list)
    ack: list = field(default_factory=list)
    early: list = field(default_factory=list)


def plan(msgs: list[tuple[int, str, bytes, object]], head_seq: int, head_hash: str) -> Plan:
    """Chain the messages that continue the log; (seq, subject, raw, handle) in any order. Pure."""
    out = Plan()
    expect, prev = head_seq + 1, head_hash
    for seq, subject, raw, handle in sorted(msgs, key=lambda m: m[0]):
        if seq < expect:  # redelivered after it was written: already in the log
            out.ack.append(handle)
        elif seq == expect:
            out.links.append(link(seq, subject, raw, prev))
            out.ack.append(handle)
            prev, expect = out.links[-1].hash, expect + 1
        else:  # a gap: an earlier message is still to come; never chain past it
            out.early.append(handle)
    return out


def checkpoint_for(lk: Link, every: int, signer: Signer) -> AuditCheckpoint | None:
    """The signed checkpoint due after this link, if its sequence is a multiple of `every`; its id is derived (and
    Ed25519 is deterministic), so a re-publish is the same bytes under the same id."""
    if every <= 0 or lk.seq % every:
        return None
    try:
        cause = str(uuid.UUID(lk.event_id))
    except ValueError:
        cause = _NO_CAUSE
    etype = AuditCheckpoint.type_name()
    return AuditCheckpoint(id=derived_id(cause, etype, f"{lk.seq}:{lk.hash}"), source=SOURCE, subject="audit",
                           data=signing.sign(signer, lk.seq, lk.hash, lk.seq))


def consumer_spec(durable: str = "audit-projector", *, batch: int = 1000, max_wait: float = 0.5,
                  ack_wait: float = 30.0) -> ConsumerSpec:
    """The projector's durable consumer over the whole AUDIT stream."""
    # Unbounded redelivery: an audit event is never dead-lettered, the chain waits for it instead.
    return ConsumerSpec(durable, AUDIT.name, tuple(AUDIT.subjects), batch=batch, max_wait=max_wait, max_deliver=-1,
                        ack_wait=ack_wait, backoff=(1.0, 2.0, 5.0), max_ack_pending=20_000)


class Projector:
    """Writes the chain from a durable pull consumer over the whole AUDIT stream, driven by the shared runner."""

    def __init__(self, bus: Bus, pool: asyncpg.Pool, signer: Signer, *, anchor: Anchor | None = None,
                 spec: ConsumerSpec | None = None, durable: str = "audit-projector", checkpoint_every: int = 1000,
                 batch: int = 1000, max_wait: float = 0.5, ack_wait: float = 30.0):
        self.bus, self.pool, self.every = bus, pool, checkpoint_every
        self.signer, self.anchor = signer, anchor
        self.own = signing.Keyring.of(signer.public)  # to tell its own checkpoints from look-alikes on the bus
        self.spec = spec or consumer_spec(durable, batch=batch, max_wait=max_wait, ack_wait=ack_wait)
        self.head_seq = 0

    async def recover_checkpoint(self) -> None:
        """After a crash: re-publish the last due checkpoint if it was lost after the commit (same derived id), and
        anchor every checkpoint of ours the stream holds but the anchor lacks.

        Only a checkpoint with this projector's valid signature counts: a look-alike for the same sequence (someone
        else's, or malformed) must not stop the real one."""
        anchored = max((e.sequence for e in self.anchor.entries()), default=0) if self.anchor else 0
        async with self.pool.acquire() as conn:
            head_seq, _ = await fold.head(conn)
            due = head_seq - head_seq % self.every if self.every > 0 else 0
            if due <= 0:
                return
            rows = await conn.fetch("SELECT seq, canonical FROM audit_log WHERE type = $1 AND seq > $2 ORDER BY seq "
                                    "LIMIT 10000", AuditCheckpoint.type_name(), min(due, anchored))
            row = await conn.fetchrow("SELECT * FROM audit_log WHERE seq = $1", due)
        ours = [(r["seq"], c) for r in rows if (c := self._ours(r["canonical"])) is not None]
        missing = [(seq, c) for seq, c in ours if c.last_sequence > anchored]
        if row is not None and not any(c.last_sequence == due for _, c in ours):
            lk = Link(row["seq"], row["event_id"], row["subject"], row["type"], None, row["correlation_id"],
                      row["causation_id"], row["canonical"], row["prev_hash"], row["hash"])
            checkpoint = checkpoint_for(lk, self.every, self.signer)
            missing.append(((await self.bus.publish(checkpoint)).seq, checkpoint.data))
        await asyncio.to_thread(self._anchor, [c for _, c in missing], [seq for seq, _ in missing])

    def _ours(self, canonical: str) -> Checkpoint | None:
        """The checkpoint in a stored row if this projector signed it, else None."""
        vouched, _ = self.own.judge(parse_document(canonical.encode()).get("data"))
        return vouched

    def _anchor(self, checkpoints: list[Checkpoint], stored_at: list[int]) -> None:
        """Each signed head into the anchor too (files, fsync'd: call it off the event loop); a failure is logged
        and counted, never a stop of the trail."""
        if self.anchor is None:
            return
        for checkpoint, seq in zip(checkpoints, stored_at, strict=True):
            try:
                self.anchor.write(checkpoint, seq)
            except (OSError, AnchorConflict) as exc:
                ANCHOR_FAILURES.inc()
                log.error("projector: head for sequence %d not anchored: %s", checkpoint.last_sequence, exc)

    async def run(self, stop: asyncio.Event) -> None:
        """Project until `stop` is set. A database outage naks the batch (the runner's backoff); a bus outage or a
        consumer leader change is the runner's to wait out."""
        runner = RawBatchRunner(self.bus, self.spec, self.handle)
        await runner.setup()
        await self.recover_checkpoint()
        await runner.run(stop)

    async def handle(self, msgs: list[Msg]) -> Plan:
        """Write what continues the chain in one transaction, then checkpoint, ack, and nak what came early."""
        items = [(m.metadata.sequence.stream, m.subject, m.data, m) for m in msgs]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            head_seq, head_hash = await fold.head(conn)
            step = plan(items, head_seq, head_hash)
            untold = await fold.write(conn, step.links)
        if untold:  # chained and stored as 'untold': the trail goes on, and the operator hears of it
            UNTOLD.inc(len(untold))
            log.warning("projector: chained %d events whose story cannot be told (wrong field types), sequences %s",
                        len(untold), untold[:20])
        if step.links:
            self.head_seq = step.links[-1].seq
        checkpoints = [c for c in (checkpoint_for(lk, self.every, self.signer) for lk in step.links) if c]
        if checkpoints:
            acks = await self.bus.publish_many(checkpoints)
            await asyncio.to_thread(self._anchor, [c.data for c in checkpoints], [ack.seq for ack in acks])
        for msg in step.ack:
            await msg.ack()
        metrics.PROCESSED.labels(self.spec.durable).inc(len(step.links))
        if step.early:
            log.info("projector: %d messages ahead of sequence %d; waiting for it", len(step.early),
                     (step.links[-1].seq if step.links else head_seq) + 1)
            for msg in step.early:
                await msg.nak(delay=0.2)
        return step
