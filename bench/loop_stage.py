"""What the scenario benchmark drives: one `driftline up` on free ports in a temp data dir, the terminal commands a
person would type, a recorder of the events on the bus, and the probes that ask which version serves."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.bus import Bus  # noqa: E402
from infra.processes import free_port  # noqa: E402
from schemas import PredictionRequested, parse_event  # noqa: E402

PORTS = ("NATS", "POSTGRES", "MLFLOW_UI", "GATEWAY", "UI", "MONITOR_METRICS", "WORKER_METRICS", "AGENT_METRICS",
         "PROJECTOR_METRICS")
MODEL = "driftline-classifier"
# The kinds of event the table is made of (predictions and labels are read raw: thousands a minute).
STORY = ("driftline.alert.raised", "driftline.alert.cleared", "driftline.diagnosis.made",
         "driftline.approval.requested", "driftline.approval.decided", "driftline.action.scheduled",
         "driftline.action.completed", "driftline.action.failed", "driftline.action.escalated",
         "driftline.action.verified", "driftline.model.promoted", "driftline.model.rolled_back")


class Up:
    """`driftline up` as a subprocess, every port moved (DRIFTLINE_*_PORT) and default settings otherwise."""

    def __init__(self, keep: bool = False):
        self.tmp = Path(tempfile.mkdtemp(prefix="driftline-bench-loop-"))
        self.keep = keep
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
        self.env["DRIFTLINE_DATA_DIR"] = str(self.tmp / "data")
        self.env.update({f"DRIFTLINE_{p}_PORT": str(free_port()) for p in PORTS})
        self.gateway = f"http://127.0.0.1:{self.env['DRIFTLINE_GATEWAY_PORT']}"
        self.nats_url = f"nats://127.0.0.1:{self.env['DRIFTLINE_NATS_PORT']}"
        self.proc: subprocess.Popen | None = None

    def start(self, attempts: int = 3) -> int:
        """Start it; should a loaded machine make a service miss `driftline up`'s readiness wait, up stops everything
        and it is started again on the same data dir. Returns the attempts it took."""
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return attempt
            except RuntimeError as exc:
                print(f"  attempt {attempt}: {exc}", flush=True)
                if self.proc.poll() is None:
                    self.stop(remove=False)
                if attempt == attempts:
                    raise
                time.sleep(10)
        return attempts

    def _start_once(self, timeout: float = 900) -> float:
        started = time.monotonic()
        # Its own session, so that whatever is left after Ctrl-C can be stopped as one group (ours, by its id).
        self.proc = subprocess.Popen([sys.executable, "-m", "driftline", "up"], cwd=ROOT, env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        lines = []
        for line in self.proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("Press Ctrl-C"):
                threading_drain(self.proc.stdout)
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                break
        self.proc.wait(60)
        raise RuntimeError(f"driftline up was not ready after {time.monotonic() - started:.0f}s: "
                           + " / ".join(lines[-6:]))

    def stop(self, remove: bool = True) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if remove and not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    async def driftline(self, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "driftline", *args, cwd=ROOT, env=self.env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(None if stdin is None else (stdin + "\n").encode()), timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"driftline {' '.join(args)} exited {proc.returncode}:\n{out.decode()}")
        return out.decode()


def threading_drain(stream) -> None:
    """Keep reading `driftline up`'s output so that it never blocks on a full pipe."""
    import threading

    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()


@dataclass
class Row:
    version: str | None = None
    predicted: object = None
    label: object = None


@dataclass
class Recorder:
    """Every prediction and label of the simulated traffic (by run and row) and every story event, with the time
    each was seen and the highest simulated row answered by then."""

    rows: dict[tuple[str, int], Row] = field(default_factory=dict)
    story: list[tuple[float, dict[str, int], object]] = field(default_factory=list)
    probes: dict[str, str] = field(default_factory=dict)
    top_row: dict[str, int] = field(default_factory=dict)
    failed: int = 0

    async def start(self, bus: Bus) -> Recorder:
        def key(request_id: str) -> tuple[str, int] | None:
            parts = request_id.split("-")
            return (parts[1], int(parts[2])) if len(parts) == 3 and parts[0] == "sim" else None

        async def on_made(msg):
            data = json.loads(msg.data)["data"]
            k = key(data["request_id"])
            if k is None:
                self.probes[data["request_id"]] = data["model_version"]
                return
            row = self.rows.setdefault(k, Row())
            row.version, row.predicted = data["model_version"], data["predicted_class"]
            self.top_row[k[0]] = max(self.top_row.get(k[0], -1), k[1])

        async def on_label(msg):
            data = json.loads(msg.data)["data"]
            k = key(data["request_id"])
            if k is not None:
                self.rows.setdefault(k, Row()).label = data["label"]

        async def on_failed(msg):
            self.failed += 1

        async def on_story(msg):
            try:
                event = parse_event(msg.data)
            except Exception:  # a dead letter or a raw copy is not part of the story
                return
            self.story.append((time.monotonic(), dict(self.top_row), event))

        self.subs = [await bus.nc.subscribe("driftline.prediction.made", cb=on_made),
                     await bus.nc.subscribe("driftline.feedback.label", cb=on_label),
                     await bus.nc.subscribe("driftline.prediction.failed", cb=on_failed)]
        self.subs += [await bus.nc.subscribe(topic, cb=on_story) for topic in STORY]
        return self

    async def stop(self) -> None:
        for sub in self.subs:
            await sub.unsubscribe()

    def of(self, cls, where=lambda e: True) -> list:
        seen, out = set(), []
        for _, _, e in self.story:
            if isinstance(e, cls) and e.id not in seen and where(e):
                seen.add(e.id)
                out.append(e)
        return out

    def seen_at(self, event) -> tuple[float, dict[str, int]]:
        """When the event was seen, and the highest row of each simulated run answered by then."""
        return next((t, n) for t, n, e in self.story if e.id == event.id)


async def gateway_version(client: httpx.AsyncClient, url: str, features: dict) -> str | None:
    try:
        r = await client.post(f"{url}/predict", json={"features": features}, timeout=10)
    except httpx.HTTPError:
        return None
    return r.json().get("model_version") if r.status_code == 200 else None


async def worker_version(bus: Bus, recorder: Recorder, features: dict, n: int, timeout: float = 10) -> str | None:
    """Ask the workers over the bus (a probe request id) and wait for their answer."""
    rid = f"probe-{time.monotonic_ns()}-{n}"
    await bus.publish(PredictionRequested(source="bench/bench_loop", subject=MODEL, data=dict(
        request_id=rid, model=MODEL, features=features)))
    deadline = time.monotonic() + timeout
    while rid not in recorder.probes and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return recorder.probes.get(rid)
