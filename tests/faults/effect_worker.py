"""A killable consumer process for the fault suite: one effect row per event, claimed in the effect's
transaction, plus a row per delivery so a test can see redeliveries.

Usage: python -m tests.faults.effect_worker --nats URL[,URL...] --dsn DSN --durable NAME [options]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import asyncpg

from infra.bus import Bus
from infra.consumer import ConsumerRunner, ConsumerSpec
from schemas import PredictionRequested
from tests.idempotency import claim

TABLES = """
CREATE TABLE IF NOT EXISTS effects (id bigserial PRIMARY KEY, event_id text NOT NULL,
                                    created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS deliveries (event_id text NOT NULL, attempt int NOT NULL);
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nats", required=True, help="comma-separated server URLs")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--durable", required=True)
    parser.add_argument("--credential", required=True, help="nkey seed file to sign in with (the operator's)")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--ack-wait", type=float, default=5.0)
    parser.add_argument("--max-deliver", type=int, default=5)
    parser.add_argument("--backoff", default="0.5,2,5,15")
    parser.add_argument("--fast-ping", action="store_true", help="notice a frozen server in ~3 s, not minutes")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per event, to be killable mid-batch")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    ping = {"ping_interval": 1, "max_outstanding_pings": 3} if args.fast_ping else {}
    bus = await Bus.connect(args.nats.split(","), name=f"effect-worker-{args.durable}", credential=Path(args.credential),
                            **ping)
    pool = await asyncpg.create_pool(args.dsn, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        await conn.execute(TABLES)

    async def handle(batch):
        await pool.executemany("INSERT INTO deliveries (event_id, attempt) VALUES ($1, $2)",
                               [(item.event.id, item.num_delivered) for item in batch])
        async with pool.acquire() as conn, conn.transaction():
            for item in batch:
                if await claim(conn, args.durable, item.event.id):
                    await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", item.event.id)
                if args.sleep:
                    await asyncio.sleep(args.sleep)

    spec = ConsumerSpec(durable=args.durable, stream="REQUESTS", subjects=(PredictionRequested.topic,),
                        batch=args.batch, max_wait=0.2, ack_wait=args.ack_wait, max_deliver=args.max_deliver,
                        backoff=tuple(float(b) for b in args.backoff.split(",")))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner = ConsumerRunner(bus, spec, handle)
    for _ in range(100):  # a cluster may still be electing the consumer's leader
        try:
            await runner.setup()
            break
        except Exception:
            await asyncio.sleep(0.2)
    print("ready", flush=True)
    await runner.run(stop)
    await pool.close()
    await bus.close()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
