"""Exactly-once effects on top of at-least-once delivery: a ledger row in the effect's transaction.

The test consumers of the crash and fault suites use it (the product's consumers key their effects on their own
tables: the projector on the stream sequence, the executor on the action id, the notifier on (event, channel)).
The ledger is migration 001's processed_events table."""

from __future__ import annotations

import asyncpg


async def claim(conn: asyncpg.Connection, consumer: str, event_id: str) -> bool:
    """Record that `consumer` handles `event_id`; False if it already did. Call inside the effect's transaction."""
    row = await conn.fetchrow(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        event_id,
    )
    return row is not None
