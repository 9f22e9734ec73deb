"""The audit projector: every AUDIT message, strictly in stream order, into the hash-chained audit log."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

import asyncpg
import nats.errors
from nats.aio.msg import Msg

from consumers.audit import fold
from consumers.audit.chain import Link, link
from infra.bus import Bus
from infra.streams import ensure_consumer
from schemas.audit import AuditCheckpoint, Checkpoint
from schemas.envelope import derived_id
from schemas.streams import AUDIT

log = logging.getLogger(__name__)

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


def checkpoint_for(lk: Link, every: int) -> AuditCheckpoint | None:
    """The checkpoint due after this link, if its sequence is a multiple of `every`; its id is derived."""
    if every <= 0 or lk.seq % every:
        return None
    try:
        cause = str(uuid.UUID(lk.event_id))
    except ValueError:
        cause = _NO_CAUSE
    etype = AuditCheckpoint.type_name()
    return AuditCheckpoint(id=derived_id(cause, etype, f"{lk.seq}:{lk.hash}"), source=SOURCE, subject="audit",
                           data=Checkpoint(last_sequence=lk.seq, head_hash=lk.hash, events=lk.seq))


class Projector:
    """Drives a durable pull consumer over the whole AUDIT stream and writes the chain."""

    def __init__(self, bus: Bus, pool: asyncpg.Pool, *, durable: str = "audit-projector",
                 checkpoint_every: int = 1000, batch: int = 1000, max_wait: float = 0.5, ack_wait: float = 30.0):
        self.bus, self.pool, self.durable, self.ack_wait = bus, pool, durable, ack_wait
        self.every, self.batch, self.max_wait = checkpoint_every, batch, max_wait
        self.head_seq = 0

    async def setup(self):
        # Unbounded redelivery: an audit event is never dead-lettered, the chain waits for it instead.
        await ensure_consumer(self.bus.js, stream=AUDIT.name, durable=self.durable, subjects=AUDIT.subjects,
                              max_deliver=-1, ack_wait=self.ack_wait, max_ack_pending=20_000)
        return await self.bus.js.pull_subscribe_bind(self.durable, stream=AUDIT.name)

    async def recover_checkpoint(self) -> None:
        """Re-publish the last due checkpoint if a crash lost it between commit and publish (same derived id)."""
        async with self.pool.acquire() as conn:
            head_seq, _ = await fold.head(conn)
            due = head_seq - head_seq % self.every if self.every > 0 else 0
            if due <= 0:
                return
            seen = await conn.fetchval(
                "SELECT 1 FROM audit_log WHERE type = $1 AND seq > $2 AND (canonical::jsonb #>> '{data,last_sequence}')::bigint = $2",
                AuditCheckpoint.type_name(), due)
            row = await conn.fetchrow("SELECT * FROM audit_log WHERE seq = $1", due)
        if not seen and row:
            lk = Link(row["seq"], row["event_id"], row["subject"], row["type"], None, row["correlation_id"],
                      row["causation_id"], row["canonical"], row["prev_hash"], row["hash"])
            await self.bus.publish(checkpoint_for(lk, self.every))

    async def run(self, stop: asyncio.Event) -> None:
        """Project until `stop` is set."""
        sub = await self.setup()
        await self.recover_checkpoint()
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(self.batch, timeout=self.max_wait)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError) as exc:
                    log.warning("projector: bus unavailable (%s); retrying", exc)
                    await asyncio.sleep(0.5)
                    continue
                try:
                    await self.handle(msgs)
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("projector: database unavailable (%s); will retry", exc)
                    for msg in msgs:
                        await msg.nak(delay=1.0)
        finally:
            try:
                await sub.unsubscribe()
            except Exception:  # connection already gone
                pass

    async def handle(self, msgs: list[Msg]) -> Plan:
        """Write what continues the chain in one transaction, then checkpoint, ack, and nak what came early."""
        items = [(m.metadata.sequence.stream, m.subject, m.data, m) for m in msgs]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            head_seq, head_hash = await fold.head(conn)
            step = plan(items, head_seq, head_hash)
            await fold.write(conn, step.links)
        if step.links:
            self.head_seq = step.links[-1].seq
        checkpoints = [c for c in (checkpoint_for(lk, self.every) for lk in step.links) if c]
        if checkpoints:
            await self.bus.publish_many(checkpoints)
        for msg in step.ack:
            await msg.ack()
        if step.early:
            log.info("projector: %d messages ahead of sequence %d; waiting for it", len(step.early),
                     (step.links[-1].seq if step.links else head_seq) + 1)
            for msg in step.early:
                await msg.nak(delay=0.2)
        return step
