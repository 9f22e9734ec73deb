"""HTTP benchmark: the gateway against `mlflow models serve` and a FastAPI no-op endpoint, same model, same machine;
and the gateway's three protocols side by side (/predict, /invocations, the Open Inference Protocol's infer).

    .venv/bin/python bench/bench_http.py [--seconds 5] [--model simple|trained] [--rounds 3] [--round-seconds 3]
    .venv/bin/python bench/bench_http.py --tracing [--seconds 5] [--rounds 3]
    .venv/bin/python bench/bench_http.py --shadow-only [--rounds 5] [--round-seconds 5]

Prints requests/s and p50/p99 latency at 1 and 32 connections for each server (single-row requests, one server
process each), and the ratios the targets are stated in; then the gateway's protocols in interleaved rounds.
/invocations gets the very body MLflow gets (dataframe_split); the OIP request has one tensor per feature, named as
the feature (the model metadata's layout).

With --tracing, the peer is the gateway itself with tracing on (OTLP/HTTP to a local sink, every trace sampled):
two gateways side by side, off and on, in alternating rounds; requests/s, p50/p99 and CPU per request of each, the
spans the sink received, and what the tracing hooks cost per request while tracing is off.
Last (or alone, --shadow-only), the cost of a shadow: a challenger is registered and two gateways serve the same
champion, one scoring the challenger in its shadow (DRIFTLINE_SHADOW_ENABLED=true, the default budget), one not;
interleaved rounds at one connection print each one's p50/p99 and CPU per request (target: +1 ms p99 at most).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Stage, free_port, run_with_load_report, sample_record, wait_http  # noqa: E402
from loadgen import LoadResult, http_request, run_load  # noqa: E402

HOST = "127.0.0.1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="Measured seconds per run (after 1 s warm-up).")
    parser.add_argument("--model", choices=["simple", "trained"], default="simple",
                        help="simple: the test fixture's logistic regression; trained: `driftline train`'s champion.")
    parser.add_argument("--connections", default="1,32", help="Comma-separated connection counts.")
    parser.add_argument("--rounds", type=int, default=3,
                        help="Interleaved rounds of the protocol comparison (with --tracing: alternating off/on rounds).")
    parser.add_argument("--round-seconds", type=float, default=3.0, help="Measured seconds per protocol and round.")
    parser.add_argument("--sync-interval", default="always",
                        help="JetStream fsync interval of the server the gateway publishes events to (always, 2m...).")
    parser.add_argument("--tracing", action="store_true",
                        help="Compare the gateway with tracing off and on instead of the other servers.")
    parser.add_argument("--shadow-only", action="store_true", help="Only the shadow's cost (with/without).")
    args = parser.parse_args()
    if args.tracing:
        with Stage(args.model, args.sync_interval) as stage:
            tracing_comparison(stage, args)
        return
    conns = [int(c) for c in args.connections.split(",")]
    py = sys.executable
    record = sample_record()
    with Stage(args.model, args.sync_interval) as stage:
        s = stage.settings
        print(f"model: {args.model} (registry version {stage.version}); {args.seconds:.0f} s per run; "
              f"JetStream sync_interval {args.sync_interval}")
        if args.shadow_only:
            shadow_cost(stage, record, args)
            return
        gateway = stage.start("gateway", [py, "-m", "driftline", "serve", "gateway"])
        mlflow_port, noop_port = free_port(), free_port()
        mlflow = stage.start("mlflow", [py, "-m", "mlflow", "models", "serve", "-m",
                                        f"models:/{s.model_name}/{stage.version}", "--env-manager", "local",
                                        "-h", HOST, "-p", str(mlflow_port), "-w", "1"])
        noop = stage.start("noop", [py, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent), "noop_app:app",
                                    "--host", HOST, "--port", str(noop_port), "--log-level", "warning",
                                    "--no-access-log"])
        wait_http(f"http://{HOST}:{s.gateway_port}/ready", gateway)
        wait_http(f"http://{HOST}:{mlflow_port}/ping", mlflow)
        wait_http(f"http://{HOST}:{noop_port}/noop", noop, method="POST")
        frame = orjson.dumps({"dataframe_split": {"columns": list(record), "data": [list(record.values())]}})
        peers = {
            "gateway /predict": (s.gateway_port, "/predict", orjson.dumps({"features": record})),
            "mlflow models serve /invocations": (mlflow_port, "/invocations", frame),
            "FastAPI no-op": (noop_port, "/noop", orjson.dumps({"features": record})),
        }
        results = {}
        for n in conns:
            print(f"\n{n} connection(s)")
            for name, (port, path, body) in peers.items():
                results[name, n] = load(port, path, body, n, args.seconds)
                print("  " + results[name, n].line(name))
        print("\nratios (gateway vs peer, same run)")
        for n in conns:
            g = results["gateway /predict", n]
            m = results["mlflow models serve /invocations", n]
            o = results["FastAPI no-op", n]
            print(f"  {n:>2} conn: gateway/mlflow = {g.rps / max(m.rps, 1e-9):6.1f}x   "
                  f"gateway/no-op = {g.rps / max(o.rps, 1e-9):5.0%}   gateway p99 = {g.percentile(99):.2f} ms")
        protocols(s, record, frame, conns, args, gateway.pid)
        shadow_cost(stage, record, args)
        print("targets: gateway/mlflow >= 20x at 32 conn; gateway/no-op >= 50%; gateway p99 <= 10 ms at 1 conn; "
              "/invocations and OIP infer no slower than /predict")


def load(port: int, path: str, body: bytes, connections: int, seconds: float, warmup: float = 1.0):
    return asyncio.run(run_load(HOST, port, http_request(HOST, port, path, body), connections=connections,
                                seconds=seconds, warmup=warmup))


def protocols(s, record: dict, frame: bytes, conns: list[int], args, pid: int) -> None:
    """The gateway's three protocols in interleaved rounds (the machine's load drifts between runs, and these
    differ by little): each round runs all three back to back; the median of the per-round ratios counts. Beside
    requests/s, the gateway process's CPU time per request, which another tenant's load moves far less."""
    import psutil

    gateway = psutil.Process(pid)
    oip = orjson.dumps({"inputs": [{"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
                                   for name, value in record.items()]})
    routes = {"/predict": orjson.dumps({"features": record}), "/invocations": frame,
              f"/v2/models/{s.model_name}/infer": oip}
    print(f"\nthe gateway's protocols: {args.rounds} interleaved rounds of {args.round_seconds:g} s each, one "
          "record a request (median ratio of requests/s against /predict in the same round; p99 over all rounds)")
    for n in conns:
        runs: dict[str, list] = {path: [] for path in routes}
        for _ in range(args.rounds):
            for path, body in routes.items():
                before = sum(gateway.cpu_times()[:2])
                result = load(s.gateway_port, path, body, n, args.round_seconds, warmup=0.0)  # warm already
                cpu_us = (sum(gateway.cpu_times()[:2]) - before) * 1e6 / max(result.requests, 1)
                runs[path].append((result, cpu_us))
        base = runs["/predict"]
        for path, got in runs.items():
            ratio = statistics.median(r.rps / max(b.rps, 1e-9) for (r, _), (b, _) in zip(got, base, strict=True))
            cpu = statistics.median(c for _, c in got)
            cpu_ratio = statistics.median(c / max(bc, 1e-9) for (_, c), (_, bc) in zip(got, base, strict=True))
            merged = LoadResult(latencies=[t for r, _ in got for t in r.latencies])
            print(f"  {n:>2} conn: {path:<38} {statistics.median(r.rps for r, _ in got):6.0f} req/s "
                  f"({ratio:4.0%} of /predict)   CPU {cpu:5.0f} us/req ({cpu_ratio:4.0%})   "
                  f"p99 {merged.percentile(99):6.2f} ms   errors {sum(r.errors for r, _ in got)}")


def tracing_comparison(stage: Stage, args) -> None:
    """The gateway with tracing off and on, side by side on one nats-server, alternating rounds."""
    import psutil
    from tracing_peer import off_hook_cost_us, spans_received, start_sink, tracing_env, tracing_off_env

    py, s = sys.executable, stage.settings
    sink = free_port()
    start_sink(stage, sink)
    ports = {"off": s.gateway_port, "on": free_port()}
    gateways = {"off": stage.start("gateway-off", [py, "-m", "driftline", "serve", "gateway"], **tracing_off_env()),
                "on": stage.start("gateway-on", [py, "-m", "driftline", "serve", "gateway"],
                                  DRIFTLINE_GATEWAY_PORT=str(ports["on"]), **tracing_env(sink))}
    for mode, proc in gateways.items():
        wait_http(f"http://{HOST}:{ports[mode]}/ready", proc)
    body = orjson.dumps({"features": sample_record()})
    print(f"model: {args.model} (version {stage.version}); {args.seconds:.0f} s per run, {args.rounds} rounds; "
          f"tracing on = OTLP/HTTP to a local sink, every trace sampled")
    cpu = {mode: psutil.Process(proc.pid) for mode, proc in gateways.items()}
    for n in [int(c) for c in args.connections.split(",")]:
        results: dict[str, list] = {"off": [], "on": []}
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                before = sum(cpu[mode].cpu_times()[:2])
                result = asyncio.run(run_load(HOST, ports[mode], http_request(HOST, ports[mode], "/predict", body),
                                              connections=n, seconds=args.seconds))
                result.cpu_us = (sum(cpu[mode].cpu_times()[:2]) - before) / max(result.requests, 1) * 1e6
                results[mode].append(result)
        print(f"\n{n} connection(s), median of {args.rounds} rounds")
        med = {}
        for mode in ("off", "on"):
            rs = results[mode]
            med[mode] = (statistics.median(r.rps for r in rs), statistics.median(r.percentile(50) for r in rs),
                         statistics.median(r.percentile(99) for r in rs), statistics.median(r.cpu_us for r in rs))
            rps, p50, p99, cpu_us = med[mode]
            print(f"  gateway, tracing {mode:<3} {rps:9.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
                  f"gateway CPU {cpu_us:5.0f} us/request   errors {sum(r.errors for r in rs)}")
        print(f"  tracing on vs off: {med['on'][0] / med['off'][0]:.0%} of the requests/s, p99 "
              f"{med['on'][2] / med['off'][2]:.2f}x, CPU per request +{med['on'][3] - med['off'][3]:.0f} us")
        off_cpu = med["off"][3]
    time.sleep(6)  # the batch processor exports every 5 s
    print(f"\nspans the sink received from the traced gateway: {spans_received(sink)}")
    hooks = off_hook_cost_us()["http"]
    print(f"tracing off: the hooks on the request path cost {hooks:.2f} us per request (timeit), "
          f"{hooks / off_cpu:.2%} of the gateway's CPU per request")


def shadow_cost(stage, record: dict, args) -> dict[str, float]:
    """Two gateways on one champion, one with a challenger in its shadow: p99 and CPU per request at 1 connection;
    -> p99 in ms by "without shadow" / "with shadow"."""
    import psutil

    from bench.champion import register_simple_model
    from infra.models import CHALLENGER

    challenger = register_simple_model(stage.settings, alias=CHALLENGER, C=0.01, seed=1)
    py, ports = sys.executable, {"without shadow": free_port(), "with shadow": free_port()}
    procs = {name: stage.start(f"gateway-{i}", [py, "-m", "driftline", "serve", "gateway"],
                               DRIFTLINE_GATEWAY_PORT=str(port), DRIFTLINE_SHADOW_ENABLED=str(name == "with shadow"))
             for i, (name, port) in enumerate(ports.items())}
    for name, port in ports.items():
        wait_http(f"http://{HOST}:{port}/ready", procs[name])
    shadowed = wait_shadow(ports["with shadow"])
    print(f"\nthe shadow's cost: challenger version {challenger} ({shadowed}); {args.rounds} interleaved rounds of "
          f"{args.round_seconds:g} s at 1 connection, one record a request")
    body = orjson.dumps({"features": record})
    runs: dict[str, list] = {name: [] for name in ports}
    for port in ports.values():
        load(port, "/predict", body, 1, 1.0, warmup=0.0)  # warm
    for _ in range(args.rounds):
        for name, port in ports.items():
            process = psutil.Process(procs[name].pid)
            before = sum(process.cpu_times()[:2])
            result = load(port, "/predict", body, 1, args.round_seconds, warmup=0.0)
            runs[name].append((result, (sum(process.cpu_times()[:2]) - before) * 1e6 / max(result.requests, 1)))
    p99 = {}
    for name, got in runs.items():
        merged = LoadResult(latencies=[t for r, _ in got for t in r.latencies])
        p99[name] = merged.percentile(99)
        print(f"  {name:<15} {statistics.median(r.rps for r, _ in got):6.0f} req/s   p50 {merged.percentile(50):5.2f} ms"
              f"   p99 {p99[name]:5.2f} ms   CPU {statistics.median(c for _, c in got):5.0f} us/req (incl. the "
              f"shadow's)   errors {sum(r.errors for r, _ in got)}")
    metrics = httpx_get(f"http://{HOST}:{ports['with shadow']}/metrics")
    scored = sum(float(line.split()[-1]) for line in metrics.splitlines()
                 if line.startswith("driftline_shadow_predictions_total{"))
    dropped = sum(float(line.split()[-1]) for line in metrics.splitlines()
                  if line.startswith("driftline_shadow_dropped_total{"))
    print(f"  p99 with shadow - without: {p99['with shadow'] - p99['without shadow']:+.2f} ms (target <= +1 ms); "
          f"shadow scored {scored:.0f} requests, dropped {dropped:.0f} over its budget")
    return p99


def wait_shadow(port: int, timeout: float = 60.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shadow = orjson.loads(httpx_get(f"http://{HOST}:{port}/ready")).get("shadow")
        if shadow:
            return shadow
        time.sleep(0.5)
    raise TimeoutError("the gateway never loaded the challenger")


def httpx_get(url: str) -> str:
    import httpx

    return httpx.get(url, timeout=10).text


if __name__ == "__main__":
    run_with_load_report(main)
