"""A consumer process for the crash test: records an effect per event, slowly, so it can be killed mid-batch.

Usage: python -m tests.integration.effect_consumer NATS_URL DSN DURABLE CREDENTIAL
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import asyncpg

from infra.bus import Bus
from infra.consumer import ConsumerRunner, ConsumerSpec
from schemas import PredictionRequested
from tests.idempotency import claim


async def main(url: str, dsn: str, durable: str, credential: str) -> None:
    bus = await Bus.connect(url, credential=Path(credential))
    pool = await asyncpg.create_pool(dsn)

    async def handle(batch):
        for item in batch:
            await pool.execute("INSERT INTO deliveries (event_id, attempt) VALUES ($1, $2)", item.event.id,
                               item.num_delivered)
            async with pool.acquire() as conn, conn.transaction():
                if await claim(conn, durable, item.event.id):
                    await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", item.event.id)
            await asyncio.sleep(0.01)  # slow enough to be killed mid-batch

    spec = ConsumerSpec(durable=durable, stream="REQUESTS", subjects=(PredictionRequested.topic,), batch=50,
                        max_wait=0.2, ack_wait=2.0)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await ConsumerRunner(bus, spec, handle).run(stop)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
