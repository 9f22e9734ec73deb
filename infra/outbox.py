"""The transactional outbox and its one relay.

A part that changes a table and must announce it writes the events into `outbox` in the same transaction
(`enqueue`); the relay publishes them in order and marks them published. A crash between publish and mark
republishes: the event id is the Nats-Msg-Id, so JetStream stores it once, and every consumer is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta

import asyncpg
from prometheus_client import Counter, Gauge

from infra import tracing
from infra.bus import Bus, stored_event_headers
from schemas import Event

log = logging.getLogger(__name__)

CHANNEL = "driftline_outbox"
_LEADER_KEY = 7_263_540_070  # one relay publishes at a time, so the stream gets the rows in id order
KEEP_PUBLISHED = timedelta(days=1)  # published rows stay a day for inspection, then go

PUBLISHED = Counter("driftline_outbox_published_total", "Outbox events published by the relay.")
UNPUBLISHED = Gauge("driftline_outbox_unpublished", "Outbox events written but not yet published.")


class NotInTransaction(RuntimeError):
    """An outbox write outside a transaction would not be atomic with the change it announces."""


async def enqueue(conn: asyncpg.Connection, events: Iterable[Event]) -> int:
    """Write events to the outbox inside the caller's transaction; an event id already there is kept once. With
    tracing on, each row keeps the trace context of the change (the span in hand) for the relay to publish."""
    traceparent = tracing.current_traceparent()
    rows = [(e.id, e.topic, e.type, e.to_bytes(), traceparent) for e in events]
    if not rows:
        return 0
    if not conn.is_in_transaction():
        raise NotInTransaction("outbox.enqueue must run inside the transaction of the change it announces")
    await conn.executemany(
        "INSERT INTO outbox (event_id, subject, type, payload, traceparent) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (event_id) DO NOTHING", rows)
    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)  # delivered at commit: wakes the relay
    return len(rows)


class OutboxRelay:
    """Publishes unpublished outbox rows in id order; woken by NOTIFY, polling as a safety net."""

    def __init__(self, bus: Bus, pool: asyncpg.Pool, *, poll_s: float = 1.0, batch: int = 500):
        self.bus, self.pool, self.poll_s, self.batch = bus, pool, poll_s, batch
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; the database or the bus being away only delays it."""
        while not stop.is_set():
            try:
                async with self.pool.acquire() as conn:
                    await self._lead(conn, stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox relay: database unavailable (%s); retrying", exc)
            except Exception as exc:  # the bus refused or timed out: the rows stay unpublished and are retried
                log.warning("outbox relay: publish failed (%r); retrying", exc)
            await _sleep(stop, self.poll_s)

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_KEY):
            return  # another relay leads; this one waits its turn
        await conn.add_listener(CHANNEL, self._notified)
        try:
            while not stop.is_set():
                sent = await self.publish_pending(conn)
                if sent == self.batch:
                    continue  # more may wait
                self._wake.clear()
                waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
                await asyncio.wait(waiters, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            try:
                await conn.remove_listener(CHANNEL, self._notified)
                await conn.execute("SELECT pg_advisory_unlock($1)", _LEADER_KEY)
            except Exception:  # the connection is gone: the lock went with it
                pass

    def _notified(self, *_args) -> None:
        self._wake.set()

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of unpublished rows (pipelined, in id order), then mark them; returns how many."""
        rows = await conn.fetch("SELECT id, event_id, subject, type, payload, traceparent FROM outbox"
                                " WHERE published_at IS NULL ORDER BY id LIMIT $1", self.batch)
        if rows:
            await self.bus.publish_raw_many(
                (r["subject"], bytes(r["payload"]), stored_event_headers(
                    r["event_id"], r["type"], {tracing.TRACEPARENT: r["traceparent"]} if r["traceparent"] else None))
                for r in rows)
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                               [r["id"] for r in rows])
            PUBLISHED.inc(len(rows))
        else:
            await conn.execute("DELETE FROM outbox WHERE published_at < now() - $1::interval", KEEP_PUBLISHED)
        UNPUBLISHED.set(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        return len(rows)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
