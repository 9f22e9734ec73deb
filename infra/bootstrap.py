"""What every start needs before services run: the streams exist and the database is migrated."""

from __future__ import annotations

import asyncio

from infra.bus import Bus
from infra.db import connect_pool
from infra.settings import Settings
from infra.streams import ensure_streams


async def prepare(nats_url: str, dsn: str, settings: Settings, attempts: int = 50) -> None:
    """Provision streams and apply migrations, waiting briefly for servers that are still starting."""
    for attempt in range(attempts):
        try:
            bus = await Bus.connect(nats_url, name="driftline-bootstrap")
            try:
                await ensure_streams(bus.js, settings)
            finally:
                await bus.close()
            break
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2)
    pool = await connect_pool(dsn, max_size=1)
    await pool.close()
