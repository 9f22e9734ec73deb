"""Proof that the audit trail is whole without trusting either store: the PostgreSQL log is the stream,
hash-chained with no gap, and the chain agrees with every head the projector signed (checkpoints in the stream,
copies in the anchor outside NATS and PostgreSQL). A rewrite done with full bus and database access but without
the checkpoint key contradicts a signed head and is named with its sequence.

A checkpoint that is malformed, unsigned, or signed by no key we hold vouches for nothing: it is reported
(`rejected`, with its sequence), never trusted, never a crash, and never by itself a failed verification (the
stream is immutable: one forged message must not fail `verify` forever). A *validly signed* head that contradicts
the chain is tampering, and fails it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from consumers.audit.anchor import Anchor
from consumers.audit.chain import GENESIS, Link, link
from consumers.audit.signing import Keyring
from infra.stream_reader import read_stream
from schemas.audit import CHECKPOINT, CHECKPOINT_TYPE, Checkpoint
from schemas.streams import AUDIT


@dataclass(frozen=True)
class Refusal:
    """A checkpoint that vouches for nothing: where it was (stream sequence, or anchored sequence) and why."""

    sequence: int
    where: str  # "stream" or "anchor"
    reason: str

    def as_dict(self) -> dict:
        return {"sequence": self.sequence, "where": self.where, "reason": self.reason}


@dataclass
class Verdict:
    ok: bool
    checked: int = 0
    bad_seq: int | None = None
    problem: str = ""
    unprojected: int = 0  # stream messages the projector has not reached yet (lag, not tampering)
    checkpoints: int = 0  # validly signed checkpoints in the stream that agree with the chain
    head_hash: str = GENESIS
    anchored: int = 0  # validly signed heads in the anchor that agree with the chain
    unanchored: int = 0  # signed checkpoints in the stream whose head the anchor lacks (a failed anchor write)
    vouched: int = 0  # the highest sequence a signed head vouches for
    stream_last: int = 0
    rejected: list[Refusal] = field(default_factory=list)

    def text(self) -> str:
        refused = ""
        if self.rejected:
            first = self.rejected[0]
            refused = (f"; {len(self.rejected)} checkpoint(s) REJECTED, vouching for nothing (first: {first.where} "
                       f"sequence {first.sequence}: {first.reason})")
        if not self.ok:
            where = f" at sequence {self.bad_seq}" if self.bad_seq is not None else ""
            return f"audit log INVALID{where}: {self.problem} ({self.checked} verified before it){refused}"
        lag = f"; {self.unprojected} newer events not projected yet" if self.unprojected else ""
        open_tail = self.stream_last - self.vouched
        tail = f"; the newest {open_tail} not yet under a signed head" if open_tail > 0 and self.vouched else ""
        missing = f"; {self.unanchored} signed heads missing from the anchor" if self.unanchored else ""
        return (f"audit log OK: {self.checked} events, {self.checkpoints} signed checkpoints and {self.anchored} "
                f"anchored heads agree, head {self.head_hash[:16]}{tail}{lag}{missing}{refused}")


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
                 on_message: Callable[[int], None] | None = None, *, keyring: Keyring,
                 anchor: Anchor | None) -> Verdict:
    """Recompute the chain from the stream's first sequence; compare every stored row and every signed head with it.

    `keyring`: the checkpoint public keys; `anchor`: where the signed heads were also written (None: not compared,
    for a caller that knows there is none). `on_message(seq)` is called for each stream message read.
    """
    info = await js.stream_info(AUDIT.name)
    verdict = Verdict(ok=True)
    if info.state.messages and info.state.first_seq != 1:
        return Verdict(False, 0, 1, f"the stream starts at sequence {info.state.first_seq}: earlier messages were removed")
    anchored, stored_at, problem = _anchored(anchor, keyring, verdict)
    if problem:
        return _bad(verdict, None, problem)
    prev, expect, first_signed = GENESIS, 1, 0
    hashes: dict[int, str] = {}
    signed: set[int] = set()
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
        if seq in anchored and anchored[seq].head_hash != lk.hash:
            return _bad(verdict, seq, f"the anchor's signed head for sequence {seq} is {anchored[seq].head_hash[:16]}, "
                                      f"the chain gives {lk.hash[:16]}: the history up to it was rewritten")
        if seq in stored_at and lk.doc.get("data") != stored_at[seq].model_dump():
            return _bad(verdict, seq, f"the anchor's checkpoint for sequence {stored_at[seq].last_sequence} was "
                                      f"stored at sequence {seq}; the stream holds another message there: messages "
                                      "were removed or replaced")
        if lk.type == CHECKPOINT_TYPE or msg.subject == CHECKPOINT:
            at, problem = _checkpoint(verdict, lk, hashes, keyring)
            if problem:
                return _bad(verdict, seq, problem)
            if at:
                signed.add(at)
                first_signed = first_signed or seq
        if row is None:
            acked = await _acknowledged(js, durable)
            if seq <= max(acked, verdict.vouched):
                return _bad(verdict, seq, f"missing in PostgreSQL although the projector had written it "
                                          f"(acknowledged up to {acked}, signed heads up to {verdict.vouched})")
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
    verdict.stream_last = last = expect - 1
    beyond = [at for at in [*anchored, *stored_at] if at > last]
    if beyond:
        return _bad(verdict, last + 1, f"the anchor vouches for sequence {min(beyond)} but the stream ends at {last}: "
                                       "messages were removed, or the stream was replaced")
    if signed and anchor is not None and not anchored:
        return _bad(verdict, first_signed, f"the stream holds {len(signed)} signed checkpoints but the anchor at "
                                           f"{anchor.directory} none of their heads: it was lost, or "
                                           "DRIFTLINE_AUDIT_ANCHOR_DIR points elsewhere")
    verdict.anchored, verdict.unanchored = len(anchored), len(signed - anchored.keys())
    return verdict


def _anchored(anchor: Anchor | None, keyring: Keyring,
              verdict: Verdict) -> tuple[dict[int, Checkpoint], dict[int, Checkpoint], str]:
    """Every validly signed anchor entry by the sequence it vouches for, and by the stream sequence its checkpoint
    message was stored at; the other entries are rejected (reported, not trusted)."""
    if anchor is None:
        return {}, {}, ""
    entries = anchor.entries()
    if entries and not keyring.keys:
        return {}, {}, _no_key(keyring)
    heads: dict[int, Checkpoint] = {}
    stored_at: dict[int, Checkpoint] = {}
    for entry in entries:
        checkpoint, why = keyring.judge(entry.data) if entry.data is not None else (None, entry.problem)
        if checkpoint is not None and checkpoint.last_sequence != entry.sequence:
            checkpoint, why = None, f"{entry.name} holds the head of sequence {checkpoint.last_sequence}"
        if checkpoint is None:
            verdict.rejected.append(Refusal(entry.sequence, "anchor", f"{entry.name}: {why}"))
            continue
        heads[entry.sequence] = checkpoint
        if entry.stored_at is not None:
            stored_at[entry.stored_at] = checkpoint
        verdict.vouched = max(verdict.vouched, entry.sequence)
    return heads, stored_at, ""


def _checkpoint(verdict: Verdict, lk: Link, hashes: dict[int, str], keyring: Keyring) -> tuple[int, str]:
    """(the sequence a valid checkpoint vouches for, or 0; a problem that fails verification, or "")."""
    if not keyring.keys:
        return 0, _no_key(keyring)
    checkpoint, why = keyring.judge(lk.doc.get("data"))
    if checkpoint is None:
        verdict.rejected.append(Refusal(lk.seq, "stream", why))
        return 0, ""
    at = checkpoint.last_sequence
    if at >= lk.seq:
        return 0, (f"signed checkpoint for sequence {at} stands at sequence {lk.seq}, before it: the stream was "
                   "rewritten")
    if hashes[at] != checkpoint.head_hash:
        return 0, (f"signed checkpoint for sequence {at} claims head {checkpoint.head_hash[:16]}, the chain gives "
                   f"{hashes[at][:16]}: the history up to it was rewritten")
    verdict.checkpoints += 1
    verdict.vouched = max(verdict.vouched, at)
    return at, ""


def _no_key(keyring: Keyring) -> str:
    return (f"checkpoints are present but no checkpoint public key was found ({keyring.where or 'none given'}): set "
            "DRIFTLINE_AUDIT_VERIFY_KEYS or copy the projector's audit-checkpoint.pub into data_dir/keys")


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


def _bad(verdict: Verdict, seq: int | None, problem: str) -> Verdict:
    verdict.ok, verdict.bad_seq, verdict.problem = False, seq, problem
    return verdict
