"""Bus benchmark: predictions/s end to end through one worker process, against the raw pipelined publish ceiling.

    .venv/bin/python bench/bench_bus.py [--requests 20000] [--rounds 3] [--latency-seconds 20] [--model simple|trained]
                                        [--tracing]
    .venv/bin/python bench/bench_bus.py --shadow-only [--requests 20000] [--rounds 3]

On one nats-server (JetStream on disk, the embedded defaults; the bench's own messages go to streams configured
like REQUESTS and PREDICTIONS):
(1) the floors at 200 msg/s: one publish -> stored hop, and the worker's two hops through a do-nothing peer
    (bench/echo_worker.py: pull, republish, ack; no parsing, no model);
then, in rounds,
(2) the ceiling: raw nats-py pipelined JetStream publishes of request-sized messages;
(3) a burst of requests through `driftline serve worker`, timed from the first request published to the last
    prediction event stored;
and after the rounds
(4) p50/p99 latency at 200 requests/s offered, from a request published to its prediction event stored (the
    server's store time) and to a subscriber seeing it;
(5) after each phase, the worker's durable consumer: pending, ack-pending, redelivered;
(6) (or alone, --shadow-only) the cost of a shadow: a challenger is registered, and in rounds the same burst runs
    through a worker without a shadow and one scoring the challenger in its shadow (the default budget); the
    ratio of their predictions/s (target >= 80%), and how many requests the shadow scored and dropped.

With --tracing, the peer is the worker itself with tracing on (OTLP/HTTP to a local sink, every trace sampled, each
request carrying its own traceparent as a traced client's would): alternating rounds of the worker off and on, each
a burst and a latency run; predictions/s, CPU per prediction, p50/p99, the spans the sink received, and what the
tracing hooks cost per message while tracing is off.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402
from common import Stage, run_with_load_report, sample_record  # noqa: E402
from echo_worker import IN as ECHO_IN  # noqa: E402
from echo_worker import OUT as ECHO_OUT  # noqa: E402
from nats.js.api import DeliverPolicy  # noqa: E402

from inference.worker import DURABLE  # noqa: E402
from infra.bus import Bus, event_headers  # noqa: E402
from infra.processes import stop as stop_child  # noqa: E402
from producers.publisher import request_and_wait, request_event  # noqa: E402
from schemas.prediction import MADE, SHADOWED  # noqa: E402
from schemas.streams import PREDICTIONS, REQUESTS, stream_for  # noqa: E402

# The raw publishes and the do-nothing echo peer use streams of their own, configured like REQUESTS and
# PREDICTIONS on the same server, so they neither feed the worker nor share the production streams.
CEILING, HOP = "bench.ceiling", "bench.hop"
BENCH_STREAMS = {"BENCH": (REQUESTS, [CEILING, HOP, ECHO_IN]), "BENCH_OUT": (PREDICTIONS, [ECHO_OUT])}


async def bench_streams(bus: Bus, settings) -> None:
    from infra.streams import stream_config

    for name, (like, subjects) in BENCH_STREAMS.items():
        config = stream_config(like, settings)
        config.name, config.subjects, config.description = name, subjects, f"bench_bus.py, configured like {like.name}"
        await bus.js.add_stream(config)


def stream_of(subject: str) -> str:
    for name, (_, subjects) in BENCH_STREAMS.items():
        if subject in subjects:
            return name
    return stream_for(subject).name


async def raw_ceiling(bus: Bus, payload: bytes, n: int) -> float:
    """Messages per second: publish_async pipelined, all acks awaited (the best a publisher gets here)."""
    start = time.perf_counter()
    futures = [await bus.js.publish_async(CEILING, payload) for _ in range(n)]
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
        info = await bus.js.consumer_info(REQUESTS.name, DURABLE)
        done = info.num_pending == 0 and info.num_ack_pending == 0
        if done or time.perf_counter() - start > timeout:
            return info.num_pending, info.num_ack_pending, info.num_redelivered, time.perf_counter() - start
        await asyncio.sleep(0.05)


def traceparent() -> dict[str, str]:
    """A traced client's header: a new trace per request, sampled."""
    return {"traceparent": f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"}


async def burst(bus: Bus, record: dict, model: str, n: int, traced: bool = False) -> float:
    """Predictions per second: n requests published pipelined, until the n-th prediction event is stored."""
    base = await stored_count(bus, MADE)
    events = [request_event(record, model=model, request_id=f"burst-{i}") for i in range(n)]
    start = time.perf_counter()
    for i in range(0, n, 1000):
        if traced:  # each its own trace: publish_many's headers are one dict for all
            futures = [await bus.js.publish_async(e.topic, e.to_bytes(), headers=event_headers(e, traceparent()))
                       for e in events[i:i + 1000]]
            await asyncio.gather(*futures)
        else:
            await bus.publish_many(events[i:i + 1000])
    while await stored_count(bus, MADE) < base + n:
        await asyncio.sleep(0.01)
    return n / (time.perf_counter() - start)


@dataclass
class Latencies:
    """Per request, ms: until the event was stored (the server's store time, the issue's end point) and until a
    subscriber of the stored events saw it (one more hop, the way any consumer receives it)."""

    stored: list[float] = field(default_factory=list)
    seen: list[float] = field(default_factory=list)

    def line(self) -> str:
        return (f"stored p50 {pct(self.stored, 50):.2f} ms, p99 {pct(self.stored, 99):.2f} ms, "
                f"max {max(self.stored, default=float('nan')):.2f} ms; seen by a subscriber p50 "
                f"{pct(self.seen, 50):.2f} ms, p99 {pct(self.seen, 99):.2f} ms")


async def latency(bus: Bus, record: dict, model: str, rate: float, seconds: float, publish_to: str | None = None,
                  listen_to: str = MADE, traced: bool = False) -> Latencies:
    """Request-to-event latencies at `rate` requests/s offered. With publish_to == listen_to it is the one-hop
    floor: the same publish -> stored -> subscriber path with no worker in between."""
    sent: dict[str, tuple[float, float]] = {}
    out = Latencies()
    done = asyncio.Event()
    total = int(rate * seconds)

    async def on_made(msg) -> None:
        now = time.perf_counter()
        rid = msg.data.split(b'"request_id":"', 1)[1].split(b'"', 1)[0].decode()
        if rid in sent:
            wall, mono = sent.pop(rid)
            out.seen.append((now - mono) * 1000)
            out.stored.append((msg.metadata.timestamp.timestamp() - wall) * 1000)
            if len(out.seen) == total:
                done.set()

    sub = await bus.js.subscribe(listen_to, stream=stream_of(listen_to), ordered_consumer=True, cb=on_made,
                                 deliver_policy=DeliverPolicy.NEW)
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        event = request_event(record, model=model, request_id=f"lat-{i}")
        payload, headers = event.to_bytes(), event_headers(event, traceparent() if traced else None)
        sent[event.data.request_id] = (time.time(), time.perf_counter())
        await bus.js.publish_async(publish_to or event.topic, payload, headers=headers)
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    except TimeoutError:
        print(f"  warning: {total - len(out.seen)} predictions not seen within 30 s")
    await sub.unsubscribe()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


async def shadow_only(stage: Stage, args) -> dict[bool, float]:
    """The shadow's cost alone, on a stage nothing else has used (bench_shadow.py --cost runs it so)."""
    from infra.streams import ensure_streams

    bus = await Bus.connect(stage.settings.resolved_nats_url, name="bench")
    try:
        await ensure_streams(bus.js, stage.settings)
        return await shadow_cost(stage, bus, sample_record(), args)
    finally:
        await bus.close()


async def run(stage: Stage, args) -> None:
    import gc

    record = sample_record()
    gc.collect()
    gc.freeze()  # this process loaded MLflow to register the model: keep full collections out of the timings
    model = stage.settings.model_name
    bus = await Bus.connect(stage.settings.resolved_nats_url, name="bench")
    from infra.streams import ensure_streams

    await ensure_streams(bus.js, stage.settings)
    if args.shadow_only:
        await bus.close()
        await shadow_only(stage, args)
        return
    await bench_streams(bus, stage.settings)
    payload = request_event(record, model=model).to_bytes()
    floor = await latency(bus, record, model, 200.0, args.latency_seconds, HOP, HOP)
    print(f"floor at 200 msg/s, one hop (publish, stored, seen by a subscriber): {floor.line()}")
    py = sys.executable
    echo = stage.start("echo", [py, str(Path(__file__).with_name("echo_worker.py")), stage.settings.resolved_nats_url])
    await asyncio.sleep(1.0)  # its consumer and pull loops are up
    echoed = await latency(bus, record, model, 200.0, args.latency_seconds, ECHO_IN, ECHO_OUT)
    stop_child(echo)
    print(f"do-nothing peer at 200 msg/s (bench/echo_worker.py: the worker's two hops, no parsing, no model): "
          f"{echoed.line()}")
    worker = psutil.Process(stage.start("worker", [py, "-m", "driftline", "serve", "worker"]).pid)
    server, me = psutil.Process(stage.nats.proc.pid), psutil.Process()
    async with asyncio.timeout(180):
        while True:
            try:
                await request_and_wait(bus, record, model=model, timeout=2)
                break
            except TimeoutError:
                continue
    # Rounds alternate the ceiling and the burst, so both see the same machine (its neighbours vary by the minute).
    ratios = []
    for round_no in range(1, args.rounds + 1):
        ceiling = await raw_ceiling(bus, payload, args.requests)
        processes = (worker, server, me)
        cpu_before, wall_before = [sum(p.cpu_times()[:2]) for p in processes], time.perf_counter()
        rate = await burst(bus, record, model, args.requests)
        cpu, server_cpu, own_cpu = (sum(p.cpu_times()[:2]) - b for p, b in zip(processes, cpu_before, strict=True))
        wall = time.perf_counter() - wall_before
        pending, ack_pending, redelivered, waited = await settle(bus)
        ratios.append(rate / ceiling)
        print(f"round {round_no}: raw pipelined publish ceiling {ceiling:6.0f} msg/s ({len(payload)} B); worker end "
              f"to end {rate:6.0f} predictions/s = {rate / ceiling:.0%} of the ceiling")
        print(f"  CPU per prediction: worker {cpu / args.requests * 1e6:.0f} us (busy {cpu / wall:.0%}), nats-server "
              f"{server_cpu / args.requests * 1e6:.0f} us (busy {server_cpu / wall:.0%}), this script "
              f"{own_cpu / args.requests * 1e6:.0f} us")
        print(f"  after the burst: pending {pending}, ack pending {ack_pending}, redelivered {redelivered} "
              f"(settled {waited:.2f} s after the last event was stored)")
    print(f"bus worker: median {statistics.median(ratios):.0%} of the raw publish ceiling over {args.rounds} rounds "
          f"(target >= 40%)")
    lat = await latency(bus, record, model, 200.0, args.latency_seconds)
    print(f"latency at 200 req/s offered ({len(lat.stored)} requests), request published -> prediction event "
          f"{lat.line()}")
    print(f"  target p99 (published -> stored) <= 15 ms: p99 {pct(lat.stored, 99):.2f} ms; the do-nothing peer's "
          f"p99 was {pct(echoed.stored, 99):.2f} ms (ratio {pct(lat.stored, 99) / pct(echoed.stored, 99):.2f}), "
          f"one hop's {pct(floor.stored, 99):.2f} ms")
    pending, ack_pending, redelivered, _ = await settle(bus)
    print(f"  after the latency run: pending {pending}, ack pending {ack_pending}, redelivered {redelivered}")
    stop_child(stage.children.pop())
    await shadow_cost(stage, bus, record, args)
    await bus.close()


async def tracing_comparison(stage: Stage, args) -> None:
    """The worker with tracing off and on, in alternating rounds (one worker at a time: they share the durable)."""
    from tracing_peer import off_hook_cost_us, spans_received, start_sink, tracing_env, tracing_off_env

    from infra.processes import free_port

    record, model, py = sample_record(), stage.settings.model_name, sys.executable
    sink = free_port()
    start_sink(stage, sink)
    bus = await Bus.connect(stage.settings.resolved_nats_url, name="bench")
    from infra.streams import ensure_streams

    await ensure_streams(bus.js, stage.settings)
    print(f"{args.rounds} rounds of: a burst of {args.requests} requests, then {args.latency_seconds:.0f} s at "
          f"200 req/s; tracing on = OTLP/HTTP to a local sink, every request its own sampled trace")
    results: dict[str, list] = {"off": [], "on": []}
    for round_no in range(1, args.rounds + 1):
        for mode in ("off", "on"):
            env = tracing_env(sink) if mode == "on" else tracing_off_env()
            child = stage.start(f"worker-{mode}-{round_no}", [py, "-m", "driftline", "serve", "worker"], **env)
            worker = psutil.Process(child.pid)
            async with asyncio.timeout(180):
                while True:
                    try:
                        await request_and_wait(bus, record, model=model, timeout=2)
                        break
                    except TimeoutError:
                        continue
            before = sum(worker.cpu_times()[:2])
            rate = await burst(bus, record, model, args.requests, traced=mode == "on")
            cpu_us = (sum(worker.cpu_times()[:2]) - before) / args.requests * 1e6
            await settle(bus)
            lat = await latency(bus, record, model, 200.0, args.latency_seconds, traced=mode == "on")
            results[mode].append((rate, cpu_us, pct(lat.stored, 50), pct(lat.stored, 99)))
            print(f"round {round_no}, tracing {mode:<3}: {rate:6.0f} predictions/s, worker CPU {cpu_us:4.0f} us per "
                  f"prediction; at 200 req/s published -> stored p50 {pct(lat.stored, 50):.2f} ms, "
                  f"p99 {pct(lat.stored, 99):.2f} ms")
            stop_child(child)
            stage.children.remove(child)
    med = {mode: [statistics.median(r[i] for r in rs) for i in range(4)] for mode, rs in results.items()}
    for mode in ("off", "on"):
        rate, cpu_us, p50, p99 = med[mode]
        print(f"worker, tracing {mode:<3} (median): {rate:6.0f} predictions/s, CPU {cpu_us:4.0f} us per prediction, "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(f"tracing on vs off: {med['on'][0] / med['off'][0]:.0%} of the predictions/s, CPU per prediction "
          f"+{med['on'][1] - med['off'][1]:.0f} us, p99 {med['on'][3] / med['off'][3]:.2f}x")
    await asyncio.sleep(6)  # the last worker exported on stop; the sink has counted
    print(f"spans the sink received from the traced workers: {spans_received(sink)}")
    hooks = off_hook_cost_us()["bus"]
    print(f"tracing off: the hooks on the message path cost {hooks:.2f} us per message (timeit), "
          f"{hooks / med['off'][1]:.2%} of the worker's CPU per prediction")
    await bus.close()


async def ready_worker(stage: Stage, bus: Bus, record: dict, name: str, **env) -> psutil.Process:
    proc = stage.start(name, [sys.executable, "-m", "driftline", "serve", "worker"], **env)
    async with asyncio.timeout(180):
        while True:
            try:
                await request_and_wait(bus, record, model=stage.settings.model_name, timeout=2)
                return proc
            except TimeoutError:
                continue


async def shadow_settled(bus: Bus, before: int) -> int:
    """Shadow events stored since `before`, once the count has stopped growing for a second (its queue drained)."""
    last, still = -1, 0.0
    async with asyncio.timeout(120):
        while still < 1.0:
            now = await stored_count(bus, SHADOWED)
            still = still + 0.25 if now == last else 0.0
            last = now
            await asyncio.sleep(0.25)
    return last - before


async def shadow_cost(stage: Stage, bus: Bus, record: dict, args) -> dict[bool, float]:
    """The same burst through a worker without and with a challenger in its shadow, in alternating rounds;
    -> median predictions/s by with shadow (True) or without (False)."""
    from bench.champion import register_simple_model
    from infra.models import CHALLENGER

    challenger = await asyncio.to_thread(register_simple_model, stage.settings, alias=CHALLENGER, C=0.01, seed=1)
    print(f"\nthe shadow's cost: challenger version {challenger}; {args.rounds} rounds of {args.requests:,} requests "
          "through a worker without, then with, the challenger in its shadow")
    rates: dict[bool, list[float]] = {False: [], True: []}
    for round_no in range(1, args.rounds + 1):
        for shadow in (False, True):
            proc = await ready_worker(stage, bus, record, f"worker-shadow-{shadow}-{round_no}",
                                      DRIFTLINE_SHADOW_ENABLED=str(shadow))
            if shadow:  # the challenger is loaded at start; wait until it scores
                before = await stored_count(bus, SHADOWED)
                async with asyncio.timeout(120):
                    while await stored_count(bus, SHADOWED) == before:
                        await request_and_wait(bus, record, model=stage.settings.model_name, timeout=5)
                        await asyncio.sleep(0.5)
            shadowed_before = await stored_count(bus, SHADOWED)
            rate = await burst(bus, record, stage.settings.model_name, args.requests)
            await settle(bus)
            shadowed = await shadow_settled(bus, shadowed_before)
            rates[shadow].append(rate)
            stop_child(proc)
            stage.children.remove(proc)
            extra = (f"; the shadow scored {shadowed:,} of {args.requests:,}, dropped the rest over its budget"
                     if shadow else "")
            print(f"  round {round_no} {'with' if shadow else 'without'} shadow: {rate:6.0f} predictions/s{extra}")
    ratio = statistics.median(w / wo for w, wo in zip(rates[True], rates[False], strict=True))
    print(f"  with shadow / without: median {ratio:.0%} of the predictions/s (target >= 80%)")
    return {shadow: statistics.median(r) for shadow, r in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="Messages in the ceiling run and the burst.")
    parser.add_argument("--rounds", type=int, default=3, help="Ceiling-then-burst rounds; the median ratio counts.")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="Length of the 200 req/s runs.")
    parser.add_argument("--model", choices=["simple", "trained"], default="simple")
    parser.add_argument("--sync-interval", default="always",
                        help="JetStream fsync interval of the server: always (the embedded default) or e.g. 2m.")
    parser.add_argument("--tracing", action="store_true",
                        help="Compare the worker with tracing off and on instead of the ceiling and the echo peer.")
    parser.add_argument("--shadow-only", action="store_true", help="Only the shadow's cost (with/without).")
    args = parser.parse_args()
    with Stage(args.model, args.sync_interval) as stage:
        print(f"model: {args.model} (registry version {stage.version}); JetStream sync_interval {args.sync_interval}")
        asyncio.run(tracing_comparison(stage, args) if args.tracing else run(stage, args))


if __name__ == "__main__":
    run_with_load_report(main)
