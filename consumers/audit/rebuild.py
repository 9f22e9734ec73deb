"""Rebuild the audit read models from the stream into a fresh schema and compare them with the live ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from nats.js import JetStreamContext

from consumers.audit import fold
from consumers.audit.chain import GENESIS, link
from infra.stream_reader import read_stream
from schemas.streams import AUDIT

LOG_COMPARED = ", ".join(fold.LOG_COLUMNS)
INCIDENT_COMPARED = "correlation_id, model, title, first_seq, last_seq, started_at, last_at, events, status"


@dataclass
class Rebuilt:
    schema: str
    events: int = 0
    differences: dict[str, int] = field(default_factory=dict)
    live_head: int = 0  # live rows past the rebuilt ones (or missing) make the incidents not comparable

    @property
    def equal(self) -> bool:
        return not any(self.differences.values())


async def _differ(conn: asyncpg.Connection, table: str, columns: str, schema: str, where: str = "") -> int:
    return await conn.fetchval(
        f"""SELECT count(*) FROM (
                (SELECT {columns} FROM public.{table} {where} EXCEPT ALL SELECT {columns} FROM {schema}.{table} {where})
                UNION ALL
                (SELECT {columns} FROM {schema}.{table} EXCEPT ALL SELECT {columns} FROM public.{table} {where})
            ) d""")


async def rebuild(js: JetStreamContext, pool: asyncpg.Pool, *, keep: bool = False, batch: int = 2000,
                  on_message: Callable[[int], None] | None = None) -> Rebuilt:
    """Replay the whole stream through the projection into schema audit_rebuild_<id>; count differing rows.

    `on_message(seq)` is called for each stream message read (the command line's progress bar).
    """
    schema = f"audit_rebuild_{uuid.uuid4().hex[:8]}"
    out = Rebuilt(schema)
    async with pool.acquire() as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
        try:
            for table in ("audit_log", "audit_incidents"):
                await conn.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
            prev, links = GENESIS, []
            async for msg in read_stream(js, AUDIT.name):
                links.append(link(msg.seq, msg.subject, msg.data, prev))
                if on_message:
                    on_message(msg.seq)
                prev = links[-1].hash
                if len(links) >= batch:
                    await _write(conn, links, schema)
                    out.events, links = out.events + len(links), []
            await _write(conn, links, schema)
            out.events += len(links)
            live_head, _ = await fold.head(conn)
            out.live_head = live_head
            upto = min(live_head, out.events)
            out.differences["audit_log"] = await _differ(conn, "audit_log", LOG_COMPARED, schema,
                                                         f"WHERE seq <= {int(upto)}")
            if live_head == out.events:
                out.differences["audit_incidents"] = await _differ(conn, "audit_incidents", INCIDENT_COMPARED, schema)
        finally:
            if not keep:
                await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return out


async def _write(conn: asyncpg.Connection, links: list, schema: str) -> None:
    async with conn.transaction():
        await fold.write(conn, links, schema)
