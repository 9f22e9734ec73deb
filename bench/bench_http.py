"""HTTP benchmark: the gateway against `mlflow models serve` and a FastAPI no-op endpoint, same model, same machine.

    .venv/bin/python bench/bench_http.py [--seconds 5] [--model simple|trained] [--tracing]

Prints requests/s and p50/p99 latency at 1 and 32 connections for each server (single-row requests, one server
process each), and the ratios the targets are stated in.

With --tracing, the peer is the gateway itself with tracing on (OTLP/HTTP to a local sink, every trace sampled):
two gateways side by side, off and on, in alternating rounds; requests/s, p50/p99 and CPU per request of each, the
spans the sink received, and what the tracing hooks cost per request while tracing is off.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Stage, free_port, run_with_load_report, sample_record, wait_http  # noqa: E402
from loadgen import http_request, run_load  # noqa: E402

HOST = "127.0.0.1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="Measured seconds per run (after 1 s warm-up).")
    parser.add_argument("--model", choices=["simple", "trained"], default="simple",
                        help="simple: the test fixture's logistic regression; trained: `driftline train`'s champion.")
    parser.add_argument("--connections", default="1,32", help="Comma-separated connection counts.")
    parser.add_argument("--sync-interval", default="always",
                        help="JetStream fsync interval of the server the gateway publishes events to (always, 2m...).")
    parser.add_argument("--tracing", action="store_true",
                        help="Compare the gateway with tracing off and on instead of the other servers.")
    parser.add_argument("--rounds", type=int, default=3, help="With --tracing: alternating off/on rounds.")
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
        frame = {"columns": list(record), "data": [list(record.values())]}
        peers = {
            "gateway /predict": (s.gateway_port, "/predict", orjson.dumps({"features": record})),
            "mlflow models serve /invocations": (mlflow_port, "/invocations",
                                                 orjson.dumps({"dataframe_split": frame})),
            "FastAPI no-op": (noop_port, "/noop", orjson.dumps({"features": record})),
        }
        results = {}
        for n in conns:
            print(f"\n{n} connection(s)")
            for name, (port, path, body) in peers.items():
                result = asyncio.run(run_load(HOST, port, http_request(HOST, port, path, body), connections=n,
                                              seconds=args.seconds))
                results[name, n] = result
                print("  " + result.line(name))
        print("\nratios (gateway vs peer, same run)")
        for n in conns:
            g = results["gateway /predict", n]
            m = results["mlflow models serve /invocations", n]
            o = results["FastAPI no-op", n]
            print(f"  {n:>2} conn: gateway/mlflow = {g.rps / max(m.rps, 1e-9):6.1f}x   "
                  f"gateway/no-op = {g.rps / max(o.rps, 1e-9):5.0%}   gateway p99 = {g.percentile(99):.2f} ms")
        print("targets: gateway/mlflow >= 20x at 32 conn; gateway/no-op >= 50%; gateway p99 <= 10 ms at 1 conn")


def tracing_comparison(stage: Stage, args) -> None:
    """The gateway with tracing off and on, side by side on one nats-server, alternating rounds."""
    import statistics

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


if __name__ == "__main__":
    run_with_load_report(main)
