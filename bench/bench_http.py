"""HTTP benchmark: the gateway against `mlflow models serve` and a FastAPI no-op endpoint, same model, same machine;
and the gateway's three protocols side by side (/predict, /invocations, the Open Inference Protocol's infer).

    .venv/bin/python bench/bench_http.py [--seconds 5] [--model simple|trained] [--rounds 3] [--round-seconds 3]

Prints requests/s and p50/p99 latency at 1 and 32 connections for each server (single-row requests, one server
process each), and the ratios the targets are stated in; then the gateway's protocols in interleaved rounds.
/invocations gets the very body MLflow gets (dataframe_split); the OIP request has one tensor per feature, named as
the feature (the model metadata's layout).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
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
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds of the protocol comparison.")
    parser.add_argument("--round-seconds", type=float, default=3.0, help="Measured seconds per protocol and round.")
    parser.add_argument("--sync-interval", default="always",
                        help="JetStream fsync interval of the server the gateway publishes events to (always, 2m...).")
    args = parser.parse_args()
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


if __name__ == "__main__":
    run_with_load_report(main)
