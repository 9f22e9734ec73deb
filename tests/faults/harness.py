"""What every fault test shares: a publish loop that keeps what was acknowledged, reading a stream back,
waiting for JetStream, and the printed tally of what was injected and counted."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg
from nats.js.api import PubAck

from infra.bus import Bus, event_headers
from infra.stream_reader import read_stream
from schemas import Event, PredictionRequested

ARTIFACTS = Path(os.environ.get("DRIFTLINE_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))


def request(i: int, **features) -> PredictionRequested:
    return PredictionRequested(source="faults", subject="m",
                               data={"request_id": f"r{i}", "features": {"x": float(i), **features}})


@dataclass
class Tally:
    """What a fault test injected and what it counted; printed as one JSON line and kept in test-artifacts."""

    fault: str
    injected: str = ""
    published: int = 0
    acked: int = 0
    processed: int = 0
    lost: int = 0
    duplicated: int = 0
    extra: dict = field(default_factory=dict)

    def report(self) -> None:
        line = json.dumps({**{k: v for k, v in asdict(self).items() if k != "extra"}, **self.extra})
        print(line, flush=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with open(ARTIFACTS / "faults.jsonl", "a") as out:
            out.write(line + "\n")


class PublishLoop:
    """Publishes events in pipelined chunks and retries what was not acknowledged (same id, so no copy)."""

    def __init__(self, bus: Bus, make: Callable[[int], Event] = request, chunk: int = 50, ack_timeout: float = 3.0):
        self.bus, self.make, self.chunk, self.ack_timeout = bus, make, chunk, ack_timeout
        self.acked: dict[str, int] = {}  # event id -> stream sequence
        self.attempts = 0
        self.failed_rounds = 0
        self.made = 0

    async def run(self, total: int, stop: asyncio.Event | None = None, pace: float = 0.0) -> None:
        """Publish `total` events (or fewer if `stop` is set), each until JetStream acknowledges it."""
        while self.made < total and not (stop and stop.is_set()):
            events = [self.make(self.made + k) for k in range(min(self.chunk, total - self.made))]
            self.made += len(events)
            await self._until_acked(events)
            if pace:
                await asyncio.sleep(pace)

    async def _until_acked(self, events: list[Event]) -> None:
        todo = events
        while todo:
            self.attempts += len(todo)
            retry = []
            for ev, res in zip(todo, await self._send(todo), strict=True):
                if isinstance(res, PubAck):
                    self.acked[ev.id] = res.seq
                else:
                    retry.append(ev)
            todo = retry
            if todo:
                self.failed_rounds += 1
                await asyncio.sleep(0.2)

    async def _send(self, events: list[Event]) -> list:
        js = self.bus.js
        try:
            futures = [await js.publish_async(ev.topic, ev.to_bytes(), headers=event_headers(ev)) for ev in events]
            return await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), self.ack_timeout)
        except Exception as exc:  # disconnected, timed out: none of this round counts as acknowledged
            return [exc] * len(events)


async def stored_ids(bus: Bus, stream: str, subject: str) -> Counter:
    """How many times each event id is stored in `stream` under `subject`."""
    found: Counter = Counter()
    async for msg in read_stream(bus.js, stream, subjects=(subject,)):
        found[msg.headers.get("Nats-Msg-Id", "")] += 1
    return found


async def wait_for_jetstream(bus: Bus, timeout: float = 60.0) -> None:
    """Until the JetStream API answers (a cluster has elected its meta leader)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                reply = await bus.nc.request("$JS.API.INFO", b"", timeout=1.0)
                if b'"error"' not in reply.data:
                    return
            except Exception:  # no responders yet, or a timeout while the cluster forms
                pass
            await asyncio.sleep(0.2)


async def eventually(check: Callable, timeout: float, what: str, interval: float = 0.1):
    """Poll an async or sync `check` until it returns something truthy; fail with `what` otherwise."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = check()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for: {what}") from None


ROOT = Path(__file__).resolve().parents[2]


async def start_effect_worker(urls: list[str], dsn: str, durable: str, *options: str) -> subprocess.Popen:
    """Start tests/faults/effect_worker.py as its own process and wait until its consumer is bound."""
    cmd = [sys.executable, "-m", "tests.faults.effect_worker", "--nats", ",".join(urls), "--dsn", dsn,
           "--durable", durable, *options]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
    assert line.strip() == "ready", f"effect worker did not start: {line!r}"
    return proc


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def effect_counts(dsn: str) -> Counter:
    """How many effects each event id had."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT event_id, count(*) AS n FROM effects GROUP BY event_id")
    finally:
        await conn.close()
    return Counter({r["event_id"]: r["n"] for r in rows})


class SupervisedWorker:
    """The effect worker run as compose (`restart: unless-stopped`) and `driftline up` run services: a process
    that exits on its own is started again, and the restarts are counted for the tally."""

    def __init__(self, urls: list[str], dsn: str, durable: str, *options: str):
        self.args = (urls, dsn, durable, *options)
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._task: asyncio.Task | None = None

    async def start(self) -> SupervisedWorker:
        self.proc = await start_effect_worker(*self.args)
        self._task = asyncio.create_task(self._watch())
        return self

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            if self.proc.poll() is not None:
                self.restarts += 1
                self.proc = await start_effect_worker(*self.args)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.proc:
            stop_process(self.proc)
