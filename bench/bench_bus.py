"""Bus benchmark: predictions/s end to end through one worker process, against the raw pipelined publish ceiling.

    .venv/bin/python bench/bench_bus.py [--requests 20000] [--latency-seconds 10] [--model simple|trained]

On one nats-server (JetStream on disk, the embedded defaults): (1) the ceiling, raw nats-py pipelined JetStream
publishes of request-sized messages; (2) a burst of requests through `driftline serve worker`, timed from the first
request published to the last prediction event stored; (3) p50/p99 request-to-event latency at 200 requests/s
offered; (4) the worker's durable consumer after each phase: pending, ack-pending, redelivered.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402
from common import Stage, run_with_load_report, sample_record  # noqa: E402
from nats.js.api import DeliverPolicy  # noqa: E402

from inference.worker import DURABLE  # noqa: E402
from infra.bus import Bus, event_headers  # noqa: E402
from producers.publisher import request_and_wait, request_event  # noqa: E402
from schemas.prediction import MADE  # noqa: E402


async def raw_ceiling(bus: Bus, payload: bytes, n: int) -> float:
    """Messages per second: publish_async pipelined, all acks awaited (the best a publisher gets here)."""
    start = time.perf_counter()
    futures = [await bus.js.publish_async("driftline.prediction.bench", payload) for _ in range(n)]
    await asyncio.gather(*futures)
    return n / (time.perf_counter() - start)


async def stored_count(bus: Bus, subject: str) -> int:
    info = await bus.js.stream_info("PREDICTIONS", subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def settle(bus: Bus, timeout: float = 30.0) -> tuple[int, int, int, float]:
    """Wait until the worker's consumer has nothing pending or unacknowledged; (pending, ack pending, redelivered,
    seconds waited)."""
    start = time.perf_counter()
    while True:
        info = await bus.js.consumer_info("PREDICTIONS", DURABLE)
        done = info.num_pending == 0 and info.num_ack_pending == 0
        if done or time.perf_counter() - start > timeout:
            return info.num_pending, info.num_ack_pending, info.num_redelivered, time.perf_counter() - start
        await asyncio.sleep(0.05)


async def burst(bus: Bus, record: dict, model: str, n: int) -> float:
    """Predictions per second: n requests published pipelined, until the n-th prediction event is stored."""
    base = await stored_count(bus, MADE)
    events = [request_event(record, model=model, request_id=f"burst-{i}") for i in range(n)]
    start = time.perf_counter()
    for i in range(0, n, 1000):
        await bus.publish_many(events[i:i + 1000])
    while await stored_count(bus, MADE) < base + n:
        await asyncio.sleep(0.01)
    return n / (time.perf_counter() - start)


async def latency(bus: Bus, record: dict, model: str, rate: float, seconds: float, publish_to: str | None = None,
                  listen_to: str = MADE) -> list[float]:
    """Request-to-event latencies (ms) at `rate` requests/s offered, seen by a consumer of the stored events.
    With publish_to == listen_to it is the floor: the same path through the server with no worker in between."""
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    total = int(rate * seconds)

    async def on_made(msg) -> None:
        now = time.perf_counter()
        rid = msg.data.split(b'"request_id":"', 1)[1].split(b'"', 1)[0].decode()
        if rid in sent:
            latencies.append((now - sent[rid]) * 1000)
            if len(latencies) == total:
                done.set()

    sub = await bus.js.subscribe(listen_to, stream="PREDICTIONS", ordered_consumer=True, cb=on_made,
                                 deliver_policy=DeliverPolicy.NEW)
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        event = request_event(record, model=model, request_id=f"lat-{i}")
        sent[event.data.request_id] = time.perf_counter()
        await bus.js.publish_async(publish_to or event.topic, event.to_bytes(), headers=event_headers(event))
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    except TimeoutError:
        print(f"  warning: {total - len(latencies)} predictions not seen within 30 s")
    await sub.unsubscribe()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


async def run(stage: Stage, args) -> None:
    import gc

    record = sample_record()
    gc.collect()
    gc.freeze()  # this process loaded MLflow to register the model: keep full collections out of the timings
    model = stage.settings.model_name
    bus = await Bus.connect(stage.settings.resolved_nats_url, name="bench")
    from infra.streams import ensure_streams

    await ensure_streams(bus.js, stage.settings)
    payload = request_event(record, model=model).to_bytes()
    ceiling = await raw_ceiling(bus, payload, args.requests)
    print(f"raw nats-py pipelined JetStream publish ceiling: {ceiling:8.0f} msg/s ({len(payload)} B messages)")
    floor = await latency(bus, record, model, 200.0, args.latency_seconds, "driftline.prediction.bench",
                          "driftline.prediction.bench")
    print(f"floor at 200 msg/s, publish -> stored -> consumer, no worker: p50 {pct(floor, 50):.2f} ms, "
          f"p99 {pct(floor, 99):.2f} ms")
    py = sys.executable
    worker = psutil.Process(stage.start("worker", [py, "-m", "driftline", "serve", "worker"]).pid)
    async with asyncio.timeout(180):
        while True:
            try:
                await request_and_wait(bus, record, model=model, timeout=2)
                break
            except TimeoutError:
                continue
    cpu_before, wall_before = sum(worker.cpu_times()[:2]), time.perf_counter()
    rate = await burst(bus, record, model, args.requests)
    cpu = sum(worker.cpu_times()[:2]) - cpu_before
    wall = time.perf_counter() - wall_before
    pending, ack_pending, redelivered, waited = await settle(bus)
    print(f"worker end to end (burst of {args.requests}):   {rate:8.0f} predictions/s = {rate / ceiling:.0%} of "
          f"the ceiling (target >= 40%)")
    print(f"  worker CPU: {cpu / args.requests * 1e6:.0f} us per prediction, busy {cpu / wall:.0%} of the burst "
          f"(a contention-independent figure: 1 core / that = the worker's own ceiling)")
    print(f"  after the burst: pending {pending}, ack pending {ack_pending}, redelivered {redelivered} "
          f"(settled {waited:.2f} s after the last event was stored)")
    lat = await latency(bus, record, model, 200.0, args.latency_seconds)
    print(f"latency at 200 req/s offered ({len(lat)} requests): p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms"
          f", max {max(lat):.2f} ms (target p99 <= 15 ms; floor p99 {pct(floor, 99):.2f} ms)")
    pending, ack_pending, redelivered, _ = await settle(bus)
    print(f"  after the latency run: pending {pending}, ack pending {ack_pending}, redelivered {redelivered}")
    await bus.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="Messages in the ceiling run and the burst.")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="Length of the 200 req/s run.")
    parser.add_argument("--model", choices=["simple", "trained"], default="simple")
    parser.add_argument("--sync-interval", default="always",
                        help="JetStream fsync interval of the server: always (the embedded default) or e.g. 2m.")
    args = parser.parse_args()
    with Stage(args.model, args.sync_interval) as stage:
        print(f"model: {args.model} (registry version {stage.version}); JetStream sync_interval {args.sync_interval}")
        asyncio.run(run(stage, args))


if __name__ == "__main__":
    run_with_load_report(main)
