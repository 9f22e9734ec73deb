"""Proof that the PostgreSQL audit log is the stream, hash-chained, with no gap: the first difference, named."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from consumers.audit.chain import GENESIS, link
from infra.stream_reader import read_stream
from schemas.streams import AUDIT

CHECKPOINT_TYPE = "driftline.audit.checkpoint.v1"


@dataclass
class Verdict:
    ok: bool
    checked: int = 0
    bad_seq: int | None = None
    problem: str = ""
    unprojected: int = 0  # stream messages the projector has not reached yet (lag, not tampering)
    checkpoints: int = 0
    head_hash: str = GENESIS

    def text(self) -> str:
        if not self.ok:
            return f"audit log INVALID at sequence {self.bad_seq}: {self.problem} ({self.checked} verified before it)"
        lag = f"; {self.unprojected} newer events not projected yet" if self.unprojected else ""
        return (f"audit log OK: {self.checked} events, {self.checkpoints} checkpoints agree, "
                f"head {self.head_hash[:16]}{lag}")


async def _rows(pool: asyncpg.Pool, chunk: int = 5000) -> AsyncIterator[asyncpg.Record]:
    """The stored rows in sequence order, the next chunk fetched while the caller works on this one."""
    async def fetch(after: int) -> list:
        async with pool.acquire() as conn:
            return await conn.fetch(
                "SELECT seq, event_id, type, correlation_id, canonical, prev_hash, hash FROM audit_log "
                "WHERE seq > $1 ORDER BY seq LIMIT $2", after, chunk)

    pending = asyncio.create_task(fetch(0))
    try:
        while True:
            rows = await pending
            if not rows:
                return
            pending = asyncio.create_task(fetch(rows[-1]["seq"]))
            for row in rows:
                yield row
    finally:
        pending.cancel()


async def _acknowledged(js: JetStreamContext, durable: str) -> int:
    """Highest sequence the projector acknowledged (it acks only after its transaction committed)."""
    try:
        info = await js.consumer_info(AUDIT.name, durable)
    except NotFoundError:
        return 0
    return info.ack_floor.stream_seq if info.ack_floor else 0


async def verify(js: JetStreamContext, pool: asyncpg.Pool, durable: str = "audit-projector",
                 on_message: Callable[[int], None] | None = None) -> Verdict:
    """Recompute the chain from the stream's first sequence and compare every stored row with it.

    `on_message(seq)` is called for each stream message read (the command line's progress bar).
    """
    info = await js.stream_info(AUDIT.name)
    verdict = Verdict(ok=True)
    if info.state.messages and info.state.first_seq != 1:
        return Verdict(False, 0, 1, f"the stream starts at sequence {info.state.first_seq}: earlier messages were removed")
    prev, expect, vouched = GENESIS, 1, 0
    hashes: dict[int, str] = {}
    rows = _rows(pool)
    row = await anext(rows, None)
    async for msg in read_stream(js, AUDIT.name):
        seq = msg.seq
        if on_message:
            on_message(seq)
        if seq != expect:
            return _bad(verdict, expect, f"missing in the stream (next stored message is {seq})")
        lk = link(seq, msg.subject, msg.data, prev)
        hashes[seq] = lk.hash
        if lk.type == CHECKPOINT_TYPE:
            problem = _check_checkpoint(lk.canonical, hashes)
            if problem:
                return _bad(verdict, seq, problem)
            verdict.checkpoints += 1
            vouched = max(vouched, json.loads(lk.canonical)["data"]["last_sequence"])
        if row is None:
            acked = await _acknowledged(js, durable)
            if seq <= max(acked, vouched):
                return _bad(verdict, seq, f"missing in PostgreSQL although the projector had written it "
                                          f"(acknowledged up to {acked}, checkpoint up to {vouched})")
            verdict.unprojected += 1
        else:
            if row["seq"] > seq:
                return _bad(verdict, seq, f"missing in PostgreSQL (the next stored row is {row['seq']})")
            if row["seq"] < seq:
                return _bad(verdict, row["seq"], "stored in PostgreSQL but not in the stream")
            problem = _compare(row, lk)
            if problem:
                return _bad(verdict, seq, problem)
            verdict.checked += 1
            verdict.head_hash = lk.hash
            row = await anext(rows, None)
        prev, expect = lk.hash, expect + 1
    if row is not None:
        return _bad(verdict, row["seq"], "stored in PostgreSQL but not in the stream")
    return verdict


def _compare(row: asyncpg.Record, lk) -> str:
    if row["canonical"] != lk.canonical:
        return (f"stored event differs from the stream (stored id {row['event_id']}, type {row['type']}; "
                f"stream id {lk.event_id}, type {lk.type})")
    if (row["event_id"], row["type"], row["correlation_id"]) != (lk.event_id, lk.type, lk.correlation_id):
        return "stored id, type or correlation id differs from the event"
    if row["prev_hash"] != lk.prev_hash:
        return f"prev_hash {row['prev_hash'][:16]} breaks the chain (expected {lk.prev_hash[:16]})"
    if row["hash"] != lk.hash:  # canonical and prev_hash are equal by now, so lk.hash is the row's own hash
        return f"stored hash {row['hash'][:16]} differs from the recomputed {lk.hash[:16]}"
    return ""


def _check_checkpoint(canonical: str, hashes: dict[int, str]) -> str:
    data = json.loads(canonical).get("data") or {}
    at, claimed = data.get("last_sequence"), data.get("head_hash")
    if hashes.get(at) != claimed:
        return f"checkpoint for sequence {at} claims head {str(claimed)[:16]}, the chain gives {str(hashes.get(at))[:16]}"
    return ""


def _bad(verdict: Verdict, seq: int, problem: str) -> Verdict:
    verdict.ok, verdict.bad_seq, verdict.problem = False, seq, problem
    return verdict
