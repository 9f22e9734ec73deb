"""Soak: the whole loop (`driftline up` on free ports) at a steady request rate for a bounded time.

Every minute it prints throughput (requests sent, predictions made, labels, drift reports, alerts, actions, audit
events), prediction latency percentiles (bus requests: request time -> prediction; HTTP: client round trip) and
the resident memory of every part: each service, the supervisor, nats-server, PostgreSQL (all its processes) and the
MLflow UI (visited at the start, so that it runs: `up` starts it on the first visit). At the end a table gives each
part's resident memory (RSS; and PSS, which counts a page shared by several processes once) at the first minute,
half-way and the end, and the total; it says whether memory levelled off (growth over the second half of the run
within --rss-tolerance) and stayed under --budget-mb (PSS summed: the memory the machine gives the loop; RSS summed
counts each shared library page once per process), and exits non-zero if not.

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

TRANSIENT = "reports (while one is built)"  # short-lived report builders (PDF, Evidently): not a standing part
COUNTED = {"driftline.prediction.made": "made", "driftline.feedback.label": "labels",
           "driftline.monitoring.drift_report": "reports", "driftline.alert.raised": "alerts",
           "driftline.action.completed": "actions", "driftline.audit.checkpoint": "checkpoints"}


def start_up(data_dir: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "driftline", "up", "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)  # noqa: SIM115


def part_of(cmd: list[str], name: str) -> str:
    """Which part of the loop a process is, by its command line."""
    if "serve" in cmd and cmd.index("serve") + 1 < len(cmd):
        return cmd[cmd.index("serve") + 1]
    if cmd and cmd[0].endswith("nats-server"):
        return "nats-server"
    if name.startswith("postgres") or (cmd and cmd[0].endswith("postgres")):
        return "postgres"
    if "mlflow" in " ".join(cmd):
        return "mlflow-ui"
    if cmd and cmd[0].endswith(("prometheus", "alertmanager")):
        return Path(cmd[0]).name.removeprefix("prometheus-")
    if "driftline.report_job" in cmd or "consumers.monitor.evidently_report" in cmd:
        return TRANSIENT
    if "up" in cmd and "driftline" in cmd:
        return "up (supervisor)"
    return "other: " + " ".join(cmd[1:4])[:40]


def memory(up: subprocess.Popen) -> dict[str, tuple[float, float]]:
    """(RSS MB, PSS MB) of each part of the loop, by name (replicas and PostgreSQL's processes summed)."""
    out: dict[str, list[float]] = {}
    try:
        root = psutil.Process(up.pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    for proc in procs:
        try:
            cmd, name = proc.cmdline(), proc.name()
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        mb = out.setdefault(part_of(cmd, name), [0.0, 0.0])
        mb[0] += info.rss / 2**20
        mb[1] += getattr(info, "pss", info.rss) / 2**20
    return {k: (v[0], v[1]) for k, v in out.items()}


def total(sample: dict[str, tuple[float, float]], which: int = 0) -> float:
    return sum(v[which] for v in sample.values())


async def visit_mlflow_ui(port: int, timeout: float = 300.0) -> None:
    """Open the MLflow UI once, as a person would: `up` starts it on the first visit."""
    async with httpx.AsyncClient(timeout=timeout) as http:
        reply = await http.get(f"http://127.0.0.1:{port}/health")
    print(f"soak: MLflow UI answered {reply.status_code} on its first visit", flush=True)


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

    ports = {name: free_port() for name in ("NATS", "POSTGRES", "MLFLOW_UI", "GATEWAY", "UI", "MONITOR_METRICS",
                                            "WORKER_METRICS", "AGENT_METRICS", "PROJECTOR_METRICS", "PROMETHEUS",
                                            "ALERTMANAGER")}  # none default
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update({f"DRIFTLINE_{name}_PORT": str(port) for name, port in ports.items()})
    env.update(DRIFTLINE_LOG_LEVEL="WARNING", DRIFTLINE_MONITOR_WINDOW_EVENTS=str(args.window))
    settings = Settings(data_dir=data_dir)
    print(f"soak: registering a champion in {data_dir} ...", flush=True)
    await asyncio.to_thread(register_simple_model, settings)
    frame = breast_cancer_frame()
    up = start_up(data_dir, env, data_dir / "up.log")
    gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
    samples: list[dict[str, float]] = []
    try:
        await wait_ready(gateway, up, 600)
        if args.mlflow_ui:
            await visit_mlflow_ui(ports["MLFLOW_UI"])
        bus = await Bus.connect(f"nats://127.0.0.1:{ports['NATS']}", name="soak")
        soak = Soak(args, settings, gateway)
        soak.rows, soak.sd = frame.to_dict("records"), float(frame["mean radius"].std())
        async def on_msg(msg) -> None:
            soak.on_event(msg)

        sub = await bus.nc.subscribe("driftline.>", cb=on_msg)
        print(f"soak: loop ready; {args.minutes} minute(s) at {args.rate:g} requests/s "
              f"(drift in odd minutes, labels after {args.label_delay:g}s)", flush=True)
        print("min   sent/s  made/s  lat p50/p95/p99 ms (bus)  http p50/p99 ms  reports alerts actions  "
              "RSS MB total / PSS total (RSS per part)", flush=True)
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
                parts = " ".join(f"{k}={v[0]:.0f}" for k, v in sorted(rss.items()))
                print(f"{minute:>3}  {(soak.sent - last_sent) / 60:>7.1f}  {delta['made'] / 60:>6.1f}  "
                      f"{pct(lat, 50):>7.1f}/{pct(lat, 95):.1f}/{pct(lat, 99):.1f}  "
                      f"{pct(http_lat, 50):>10.1f}/{pct(http_lat, 99):.1f}  {delta['reports']:>7} {delta['alerts']:>6} "
                      f"{delta['actions']:>7}  {total(rss):>6.0f} / {total(rss, 1):.0f} ({parts})", flush=True)
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
    print_table(samples)
    return verdict(samples, args.rss_tolerance, args.budget_mb)


def print_table(samples: list[dict[str, tuple[float, float]]]) -> None:
    """Each part's resident memory at the first minute, half-way and the end (RSS; PSS at the end), and the total."""
    if not samples:
        return
    first, half, last = samples[0], samples[max(len(samples) // 2 - 1, 0)], samples[-1]
    names = sorted({n for s in samples for n in s}, key=lambda n: -last.get(n, (0.0, 0.0))[0])
    print(f"\n{'part':<24} {'RSS MB min 1':>12} {f'min {len(samples) // 2 or 1}':>8} {f'min {len(samples)}':>8} "
          f"{'PSS MB end':>10}")
    for name in names:
        cols = [s.get(name, (0.0, 0.0))[0] for s in (first, half, last)]
        print(f"{name:<24} {cols[0]:>12.0f} {cols[1]:>8.0f} {cols[2]:>8.0f} {last.get(name, (0.0, 0.0))[1]:>10.0f}")
    print(f"{'total':<24} {total(first):>12.0f} {total(half):>8.0f} {total(last):>8.0f} {total(last, 1):>10.0f}")


def verdict(samples: list[dict[str, tuple[float, float]]], tolerance: float, budget_mb: float) -> int:
    """Memory levelled off if the total grew by at most `tolerance` over the second half of the run; the total
    resident memory (PSS) stayed under the budget at every minute."""
    standing = [{k: v for k, v in s.items() if k != TRANSIENT} for s in samples]
    totals, shared_once = [total(s) for s in standing], [total(s, 1) for s in standing]
    peak, peak_rss = max(shared_once, default=0.0), max(totals, default=0.0)
    within = peak <= budget_mb
    # RSS summed over processes counts a page each process maps (libpython, numpy, scikit-learn...) once per process;
    # PSS shares each such page among the processes that map it: the sum is the memory the machine gives the loop.
    print(f"soak: resident memory of the running parts (PSS, shared pages counted once) at most {peak:.0f} MB, "
          f"budget {budget_mb:.0f} MB: {'within' if within else 'OVER BUDGET'}; RSS summed over processes at most "
          f"{peak_rss:.0f} MB")
    spikes = [s[TRANSIENT] for s in samples if TRANSIENT in s]
    if spikes:
        print(f"soak: while a report was built (a process of its own, gone after): up to "
              f"{max(p for _, p in spikes):.0f} MB PSS more, seen in {len(spikes)} of {len(samples)} samples")
    if len(totals) < 4:
        print(f"soak: {len(totals)} minute(s) is too short to judge growth (RSS {[round(t) for t in totals]}); "
              "run >= 4 minutes")
        return 0 if within else 1
    half = totals[len(totals) // 2 - 1]
    growth = (totals[-1] - half) / half
    ok = growth <= tolerance
    print(f"soak: memory {'levelled off' if ok else 'KEPT GROWING'}: {half:.0f} MB at minute {len(totals) // 2} -> "
          f"{totals[-1]:.0f} MB at minute {len(totals)} ({growth:+.1%}, tolerance {tolerance:.0%})")
    return 0 if ok and within else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="length of the run (the soak is 10 or more)")
    parser.add_argument("--rate", type=float, default=50.0, help="prediction requests per second")
    parser.add_argument("--label-delay", type=float, default=5.0, help="seconds until each true label arrives")
    parser.add_argument("--shift", type=float, default=1.0, help="drift: `mean radius` shift in standard deviations")
    parser.add_argument("--window", type=int, default=500, help="predictions per drift-report window")
    parser.add_argument("--rss-tolerance", type=float, default=0.10, help="allowed RSS growth over the second half")
    parser.add_argument("--budget-mb", type=float, default=1500.0, help="total resident memory allowed (issue 20)")
    parser.add_argument("--no-mlflow-ui", dest="mlflow_ui", action="store_false",
                        help="do not visit the MLflow UI (so `up` never starts it)")
    parser.add_argument("--data-dir", type=Path, help="keep the run's data here (default: a temporary folder)")
    args = parser.parse_args()
    if args.data_dir:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run(args, args.data_dir.resolve()))
    with tempfile.TemporaryDirectory(prefix="driftline-soak-") as tmp:
        return asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
