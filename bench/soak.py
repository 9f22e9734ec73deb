"""Soak: the whole loop (`driftline up` on free ports) at a steady request rate for a bounded time.

Every minute it prints throughput (requests sent, predictions made, labels, drift reports, alerts, actions, audit
events), prediction latency percentiles (bus requests: request time -> prediction; HTTP: client round trip) and
the resident memory of every service, nats-server and PostgreSQL. At the end it says whether memory levelled off
(growth over the second half of the run within --rss-tolerance) and exits non-zero if it did not.

Drift is switched on in every other minute (`mean radius` shifted by --shift standard deviations), so the monitor,
the agent, the projector and the notifier all have work, and true labels follow each request after --label-delay.

Usage: python bench/soak.py                 # 10 minutes at 50 requests/s (the bounded soak; not in the test run)
       python bench/soak.py --minutes 1     # a short proof that it works
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.bus import Bus  # noqa: E402
from infra.processes import free_port  # noqa: E402
from infra.settings import Settings  # noqa: E402
from schemas import LabelReceived, PredictionRequested, parse_event  # noqa: E402

COUNTED = {"driftline.prediction.made": "made", "driftline.feedback.label": "labels",
           "driftline.monitoring.drift_report": "reports", "driftline.alert.raised": "alerts",
           "driftline.action.completed": "actions", "driftline.audit.checkpoint": "checkpoints"}


def start_up(data_dir: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "driftline", "up", "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)  # noqa: SIM115


def memory(up: subprocess.Popen) -> dict[str, float]:
    """Resident MB of each part of the loop, by name (several worker replicas are summed)."""
    rss: Counter = Counter()
    try:
        children = psutil.Process(up.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return {}
    for proc in children:
        try:
            cmd = proc.cmdline()
            mb = proc.memory_info().rss / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if "serve" in cmd:
            rss[cmd[cmd.index("serve") + 1]] += mb
        elif cmd and cmd[0].endswith("nats-server"):
            rss["nats-server"] += mb
        elif cmd and cmd[0].endswith("postgres"):
            rss["postgres"] += mb
        elif "mlflow" in " ".join(cmd[:4]):
            rss["mlflow-ui"] += mb
    return dict(rss)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Soak:
    def __init__(self, args: argparse.Namespace, settings: Settings, gateway: str):
        self.args, self.settings, self.gateway = args, settings, gateway
        self.rows = None
        self.counts: Counter = Counter()
        self.latency_ms: list[float] = []
        self.http_ms: list[float] = []
        self.sent = 0
        self.labels: list[tuple[float, LabelReceived]] = []

    def on_event(self, msg) -> None:
        kind = next((name for prefix, name in COUNTED.items() if msg.subject.startswith(prefix)), None)
        if kind is None:
            return
        self.counts[kind] += 1
        if kind == "made":
            event = parse_event(msg.data)
            if event.data.channel == "bus":
                self.latency_ms.append(event.data.latency_ms)

    def request(self, i: int, drifting: bool) -> tuple[PredictionRequested, LabelReceived]:
        row = self.rows[i % len(self.rows)]
        features = {k: v for k, v in row.items() if k != "target"}
        if drifting:
            features["mean radius"] = features["mean radius"] + self.args.shift * self.sd
        model = self.settings.model_name
        req = PredictionRequested(source="bench/soak", subject=model,
                                  data={"request_id": f"soak-{i}", "model": model, "features": features})
        label = LabelReceived(source="bench/soak", subject=model,
                              data={"request_id": f"soak-{i}", "model": model, "label": int(row["target"])})
        return req, label

    async def traffic(self, bus: Bus, http: httpx.AsyncClient, stop: asyncio.Event, started: float) -> None:
        """A steady rate: one tick every 1/rate seconds; every 10th request goes through the HTTP gateway."""
        period, i = 1.0 / self.args.rate, 0
        while not stop.is_set():
            drifting = int((time.monotonic() - started) // 60) % 2 == 1
            req, label = self.request(i, drifting)
            if i % 10 == 9:
                asyncio.create_task(self.http_predict(http, req))
            else:
                await bus.js.publish_async(req.topic, req.to_bytes(), headers={"Nats-Msg-Id": req.id})
            self.labels.append((time.monotonic() + self.args.label_delay, label))
            while self.labels and self.labels[0][0] <= time.monotonic():
                _, due = self.labels.pop(0)
                await bus.js.publish_async(due.topic, due.to_bytes(), headers={"Nats-Msg-Id": due.id})
            self.sent += 1
            i += 1
            await asyncio.sleep(max(0.0, started + i * period - time.monotonic()))

    async def http_predict(self, http: httpx.AsyncClient, req: PredictionRequested) -> None:
        start = time.perf_counter()
        try:
            reply = await http.post(f"{self.gateway}/predict", json={"features": req.data.features,
                                                                     "request_id": req.data.request_id})
            if reply.status_code == 200:
                self.http_ms.append((time.perf_counter() - start) * 1000)
            else:
                self.counts["http_errors"] += 1
        except httpx.HTTPError:
            self.counts["http_errors"] += 1


async def wait_ready(url: str, up: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if up.poll() is not None:
                raise RuntimeError(f"driftline up exited with {up.returncode}")
            try:
                if (await http.get(f"{url}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(1)
    raise TimeoutError(f"the gateway was not ready within {timeout:.0f}s")


async def run(args: argparse.Namespace, data_dir: Path) -> int:
    from bench.champion import breast_cancer_frame, register_simple_model

    ports = {name: free_port() for name in ("NATS", "POSTGRES", "MLFLOW_UI", "GATEWAY", "UI")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update({f"DRIFTLINE_{name}_PORT": str(port) for name, port in ports.items()})
    env.update(DRIFTLINE_LOG_LEVEL="WARNING", DRIFTLINE_MONITOR_METRICS_PORT=str(free_port()),
               DRIFTLINE_MONITOR_WINDOW_EVENTS=str(args.window))
    settings = Settings(data_dir=data_dir)
    print(f"soak: registering a champion in {data_dir} ...", flush=True)
    await asyncio.to_thread(register_simple_model, settings)
    frame = breast_cancer_frame()
    up = start_up(data_dir, env, data_dir / "up.log")
    gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
    samples: list[dict[str, float]] = []
    try:
        await wait_ready(gateway, up, 600)
        bus = await Bus.connect(f"nats://127.0.0.1:{ports['NATS']}", name="soak")
        soak = Soak(args, settings, gateway)
        soak.rows, soak.sd = frame.to_dict("records"), float(frame["mean radius"].std())
        async def on_msg(msg) -> None:
            soak.on_event(msg)

        sub = await bus.nc.subscribe("driftline.>", cb=on_msg)
        print(f"soak: loop ready; {args.minutes} minute(s) at {args.rate:g} requests/s "
              f"(drift in odd minutes, labels after {args.label_delay:g}s)", flush=True)
        print("min   sent/s  made/s  lat p50/p95/p99 ms (bus)  http p50/p99 ms  reports alerts actions  "
              "RSS MB total (per part)", flush=True)
        stop = asyncio.Event()
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=10) as http:
            traffic = asyncio.create_task(soak.traffic(bus, http, stop, started))
            last, last_sent = Counter(), 0
            for minute in range(1, args.minutes + 1):
                await asyncio.sleep(max(0.0, started + minute * 60 - time.monotonic()))
                if up.poll() is not None:
                    raise RuntimeError(f"driftline up exited with {up.returncode}; see {data_dir / 'up.log'}")
                lat, soak.latency_ms = soak.latency_ms, []
                http_lat, soak.http_ms = soak.http_ms, []
                now = Counter(soak.counts)
                delta = now - last
                rss = memory(up)
                samples.append(rss)
                parts = " ".join(f"{k}={v:.0f}" for k, v in sorted(rss.items()))
                print(f"{minute:>3}  {(soak.sent - last_sent) / 60:>7.1f}  {delta['made'] / 60:>6.1f}  "
                      f"{pct(lat, 50):>7.1f}/{pct(lat, 95):.1f}/{pct(lat, 99):.1f}  "
                      f"{pct(http_lat, 50):>10.1f}/{pct(http_lat, 99):.1f}  {delta['reports']:>7} {delta['alerts']:>6} "
                      f"{delta['actions']:>7}  {sum(rss.values()):>6.0f} ({parts})", flush=True)
                last, last_sent = now, soak.sent
            stop.set()
            await traffic
        await sub.unsubscribe()
        await bus.close()
        print(f"soak: sent {soak.sent}, totals {dict(soak.counts)}", flush=True)
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
    return verdict(samples, args.rss_tolerance)


def verdict(samples: list[dict[str, float]], tolerance: float) -> int:
    """Memory levelled off if the total grew by at most `tolerance` over the second half of the run."""
    totals = [sum(s.values()) for s in samples]
    if len(totals) < 4:
        print(f"soak: {len(totals)} minute(s) is too short to judge memory (RSS {totals}); run >= 4 minutes")
        return 0
    half = totals[len(totals) // 2 - 1]
    growth = (totals[-1] - half) / half
    ok = growth <= tolerance
    print(f"soak: memory {'levelled off' if ok else 'KEPT GROWING'}: {half:.0f} MB at minute {len(totals) // 2} -> "
          f"{totals[-1]:.0f} MB at minute {len(totals)} ({growth:+.1%}, tolerance {tolerance:.0%})")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="length of the run (the soak is 10 or more)")
    parser.add_argument("--rate", type=float, default=50.0, help="prediction requests per second")
    parser.add_argument("--label-delay", type=float, default=5.0, help="seconds until each true label arrives")
    parser.add_argument("--shift", type=float, default=1.0, help="drift: `mean radius` shift in standard deviations")
    parser.add_argument("--window", type=int, default=500, help="predictions per drift-report window")
    parser.add_argument("--rss-tolerance", type=float, default=0.10, help="allowed RSS growth over the second half")
    parser.add_argument("--data-dir", type=Path, help="keep the run's data here (default: a temporary folder)")
    args = parser.parse_args()
    if args.data_dir:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run(args, args.data_dir.resolve()))
    with tempfile.TemporaryDirectory(prefix="driftline-soak-") as tmp:
        return asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
