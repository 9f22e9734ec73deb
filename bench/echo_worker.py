"""The do-nothing peer of the bus worker: the same pull pattern and pipelined publish, no parsing and no model.

    python bench/echo_worker.py NATS_URL   (bench_bus.py starts and stops it)

It pulls bench.echo.in from the BENCH stream (durable bench-echo, three pull loops through the worker's own
infra.consumer.TwoStepPull), republishes each message's bytes to bench.echo.out (stream
BENCH_OUT) pipelined, waits until they are stored, then acks: the floor under the worker's two-hop latency.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import nats
import nats.errors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infra.consumer import TwoStepPull  # noqa: E402  (no model libraries: the peer stays lean)

DURABLE, STREAM, IN, OUT = "bench-echo", "BENCH", "bench.echo.in", "bench.echo.out"


async def loop(js) -> None:
    sub = TwoStepPull(await js.pull_subscribe_bind(DURABLE, stream=STREAM), idle_wait=1.0)
    while True:
        try:
            msgs = await sub.fetch(500, timeout=0.002)  # the worker's defaults: batch 500, 2 ms wait
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        futures = [await js.publish_async(OUT, m.data) for m in msgs]
        await asyncio.gather(*futures)
        for m in msgs:
            await m.ack()


async def main(url: str) -> None:
    from nats.js.api import AckPolicy, ConsumerConfig

    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=20_000)
    await js.add_consumer(STREAM, ConsumerConfig(durable_name=DURABLE, filter_subject=IN,
                                                 ack_policy=AckPolicy.EXPLICIT, max_ack_pending=10_000))
    await asyncio.gather(*(loop(js) for _ in range(3)))


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(sys.argv[1]))
