"""What every start needs before services run: the streams exist and the database is migrated."""

from __future__ import annotations

import asyncio
from pathlib import Path

from infra.bus import Bus
from infra.db import connect_pool
from infra.settings import Settings, shown_url
from infra.streams import ensure_streams

CONNECT_TIMEOUT_S = 10.0


async def prepare(nats_url: str, dsn: str, settings: Settings, attempts: int = 10,
                  credential: Path | None = None) -> None:
    """Provision streams (signed in with `credential`, the operator's) and apply migrations, waiting briefly for
    servers that are still starting.

    Each bus attempt gives up after about a second (a one-shot connect: the embedded server is already listening
    when this runs), so a configured server that is down ends `driftline up` with a RuntimeError naming it
    within ~15 s instead of a start that hangs.
    """
    for attempt in range(attempts):
        try:
            bus = await Bus.connect(nats_url, name="driftline-bootstrap", one_shot=True, credential=credential)
            try:
                await ensure_streams(bus.js, settings)
            finally:
                await bus.close()
            break
        except Exception as exc:
            if attempt == attempts - 1:
                raise RuntimeError(f"cannot reach NATS at {shown_url(nats_url)} ({exc or type(exc).__name__}); start it or "
                                   "correct DRIFTLINE_NATS_URL") from exc
            await asyncio.sleep(0.2)
    try:
        pool = await asyncio.wait_for(connect_pool(dsn, max_size=1), CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise RuntimeError(f"cannot reach PostgreSQL at {shown_url(dsn)} ({exc or type(exc).__name__}); start it or correct "
                           "DRIFTLINE_DATABASE_URL") from exc
    await pool.close()
