"""Desired replica counts of local services: written by the agent's scale action, applied by `driftline up`."""

from __future__ import annotations

import asyncpg

MAX_REPLICAS = 16


async def set_replicas(conn: asyncpg.Connection, service: str, replicas: int, by: str = "agent") -> int | None:
    """Set the desired replicas of `service`; returns the previous desired count (None if it was never set)."""
    if not 0 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"replicas must be between 0 and {MAX_REPLICAS}, not {replicas}")
    async with conn.transaction():
        before = await conn.fetchval("SELECT replicas FROM service_scale WHERE service = $1 FOR UPDATE", service)
        await conn.execute(
            """INSERT INTO service_scale (service, replicas, updated_by) VALUES ($1, $2, $3)
               ON CONFLICT (service) DO UPDATE SET replicas = $2, updated_by = $3, updated_at = now()""",
            service, replicas, by,
        )
    return before


async def desired_replicas(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT service, replicas FROM service_scale")
    return {r["service"]: r["replicas"] for r in rows}
