"""HTTP benchmark: the gateway against `mlflow models serve` and a FastAPI no-op endpoint, same model, same machine;
and the gateway's three protocols side by side (/predict, /invocations, the Open Inference Protocol's infer).

    .venv/bin/python bench/bench_http.py [--seconds 5] [--model simple|trained]

Prints requests/s and p50/p99 latency at 1 and 32 connections for each server and route (single-row requests, one
server process each), and the ratios the targets are stated in. /invocations gets the very body MLflow gets
(dataframe_split); the OIP request has one tensor per feature, named as the feature (the model metadata's layout).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
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
        oip = orjson.dumps({"inputs": [{"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
                                       for name, value in record.items()]})
        peers = {
            "gateway /predict": (s.gateway_port, "/predict", orjson.dumps({"features": record})),
            "gateway /invocations": (s.gateway_port, "/invocations", frame),
            "gateway /v2/models/{name}/infer": (s.gateway_port, f"/v2/models/{s.model_name}/infer", oip),
            "mlflow models serve /invocations": (mlflow_port, "/invocations", frame),
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
        print("\nthe gateway's protocols, same run (requests/s and p99 against /predict)")
        for n in conns:
            g = results["gateway /predict", n]
            for name in ("gateway /invocations", "gateway /v2/models/{name}/infer"):
                r = results[name, n]
                print(f"  {n:>2} conn: {name[8:]:<24} {r.rps / max(g.rps, 1e-9):5.0%} of /predict's req/s   "
                      f"p99 {r.percentile(99):6.2f} ms against {g.percentile(99):6.2f} ms")
        print("targets: gateway/mlflow >= 20x at 32 conn; gateway/no-op >= 50%; gateway p99 <= 10 ms at 1 conn; "
              "/invocations and OIP infer no slower than /predict")


if __name__ == "__main__":
    run_with_load_report(main)
