"""Scale-out benchmark: predictions per second through the bus for 1 and 2 worker processes sharing one durable.

Each round starts N `driftline serve worker` processes (the real service, its real durable consumer
`inference-worker`), waits until every process is pulling, pauses the consumer, stores a backlog of prediction
requests, resumes the consumer and times how long the workers take to answer them all. The named peer is the
single worker process; the ratio says how much a second process adds on this machine.

Usage: python bench/bench_scale.py [--requests 20000] [--workers 1,2] [--concurrency 3] [--sync-interval always]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.bus import Bus  # noqa: E402
from infra.nats_server import EmbeddedNats  # noqa: E402
from infra.processes import free_port  # noqa: E402
from infra.settings import Settings  # noqa: E402
from infra.streams import ensure_streams  # noqa: E402
from schemas import PredictionMade, PredictionRequested  # noqa: E402

DURABLE, STREAM, OUT = "inference-worker", "REQUESTS", "PREDICTIONS"


def start_workers(n: int, settings: Settings, concurrency: int, logs: Path) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(DRIFTLINE_NATS_URL=settings.resolved_nats_url, DRIFTLINE_DATA_DIR=str(settings.data_dir),
               DRIFTLINE_MLFLOW_TRACKING_URI=settings.resolved_mlflow_uri, DRIFTLINE_LOG_LEVEL="WARNING",
               DRIFTLINE_WORKER_CONCURRENCY=str(concurrency))
    return [subprocess.Popen([sys.executable, "-m", "driftline", "serve", "worker"], cwd=ROOT, env=env,
                             stdout=open(logs / f"worker-{n}-{i}.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
            for i in range(n)]


async def pause(bus: Bus, on: bool) -> None:
    body = json.dumps({"pause_until": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}).encode() if on else b""
    await bus.nc.request(f"$JS.API.CONSUMER.PAUSE.{STREAM}.{DURABLE}", body, timeout=5)


async def made(bus: Bus) -> int:
    info = await bus.js.stream_info(OUT, subjects_filter=PredictionMade.topic)
    return (info.state.subjects or {}).get(PredictionMade.topic, 0)


async def until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise TimeoutError(what)


async def one_round(bus: Bus, settings: Settings, workers: int, requests: list[PredictionRequested], concurrency: int,
                    logs: Path) -> float:
    """Predictions per second of `workers` processes over the same backlog."""
    try:
        await bus.js.delete_consumer(STREAM, DURABLE)
    except Exception:  # first round: no consumer yet
        pass
    await bus.js.purge_stream(STREAM)
    await bus.js.purge_stream(OUT)
    procs = start_workers(workers, settings, concurrency, logs)
    try:
        async def pulling():
            try:
                info = await bus.js.consumer_info(STREAM, DURABLE)
            except Exception:
                return False
            return info.num_waiting >= workers * concurrency  # every pull loop of every process is waiting

        await until(pulling, 300, "workers pulling")
        await pause(bus, True)
        for i in range(0, len(requests), 2000):
            await bus.publish_many(requests[i:i + 2000])
        start = time.perf_counter()
        await pause(bus, False)
        await until(lambda: _reached(bus, len(requests)), 600, "every request answered")
        return len(requests) / (time.perf_counter() - start)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


async def _reached(bus: Bus, n: int) -> bool:
    return await made(bus) >= n


async def main(args: argparse.Namespace) -> None:
    from bench.champion import breast_cancer_frame, register_simple_model

    with tempfile.TemporaryDirectory(prefix="driftline-bench-scale-") as tmp:
        root = Path(tmp)
        server = EmbeddedNats(root / "nats", port=free_port(), server_name="bench-scale",
                              sync_interval=args.sync_interval)
        server.start()
        settings = Settings(data_dir=root / "data", nats_url=server.url)
        try:
            register_simple_model(settings)
            rows = breast_cancer_frame().drop(columns="target").to_dict("records")
            bus = await Bus.connect(server.url, name="bench-scale")
            await ensure_streams(bus.js, settings)
            results = {}
            for workers in args.workers:
                requests = [PredictionRequested(source="bench", subject=settings.model_name, data={
                    "request_id": f"w{workers}-r{i}", "model": settings.model_name,
                    "features": rows[i % len(rows)]}) for i in range(args.requests)]
                results[workers] = await one_round(bus, settings, workers, requests, args.concurrency, root)
                print(f"{workers} worker process(es): {results[workers]:,.0f} predictions/s "
                      f"({args.requests:,} requests, {args.concurrency} pull loops each)", flush=True)
            await bus.close()
        finally:
            server.stop()
    base = results.get(1) or next(iter(results.values()))
    print("\nworkers  predictions/s  vs 1 process")
    for workers, rate in results.items():
        print(f"{workers:>7}  {rate:>13,.0f}  {rate / base:>11.2f}x")
    print(f"(nats-server sync_interval {args.sync_interval}; machine: {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--sync-interval", default="always",
                        help="JetStream fsync interval: always (production default) or e.g. 2m")
    parser.add_argument("--concurrency", type=int, default=3,
                        help="pull loops per process (DRIFTLINE_WORKER_CONCURRENCY)")
    asyncio.run(main(parser.parse_args()))
