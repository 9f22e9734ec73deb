"""Wiring of the audit projector service: AUDIT stream -> hash-chained audit log in PostgreSQL."""

from __future__ import annotations

import asyncio

from consumers.audit.projector import Projector
from driftline.common import database_dsn
from infra.bus import Bus
from infra.db import connect_pool
from infra.settings import Settings
from infra.streams import ensure_streams


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-projector")
    pool = await connect_pool(await database_dsn(settings), max_size=2)
    try:
        await ensure_streams(bus.js, settings)
        projector = Projector(bus, pool, durable=settings.audit_durable,
                              checkpoint_every=settings.audit_checkpoint_every, ack_wait=settings.ack_wait_s)
        await projector.run(stop)
    finally:
        await pool.close()
        await bus.close()
