"""Training benchmark: `train()` on one machine against `train()` on a Dask LocalCluster of 2 workers, same data.

    .venv/bin/python bench/bench_train.py [--rows 1200000] [--unseen 200000] [--families xgboost lightgbm]

The data set is generated here: sklearn's make_classification (20 numeric columns, 10 informative), three text
categories derived from it (region: 12 values, plan: 4, channel: 6), 1% gaps in four columns, a yes/no target,
written as one CSV. Each backend trains it in a child process (its own data dir, MLflow store and inferred
schema) through the whole `train()`: read, infer the contract, validate, split, fit, score, log, register.

    rows/s          data set rows / wall seconds of `train()`
    peak RSS        sampled every 0.2 s with psutil: the training process ("main"; with Dask it is the client
                    and the scheduler) and each process it started (the local Fitter's pool, the Dask workers)
    ROC AUC         each backend's fitted candidates, loaded from its MLflow runs, on `--unseen` rows neither saw

Peers: "local, 1 process" (train_processes=1: what one process needs for the data), "local" (the default: one
fitting process per core from 5,000 rows), "dask, 2 workers" (train_backend=dask, dask_workers=2).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PEERS = {  # name -> settings of the child's training
    "local, 1 process": {"train_processes": 1},
    "local": {},
    "dask, 2 workers": {"train_backend": "dask", "dask_workers": 2},
}


def generate(rows: int, seed: int = 2024) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(rows, n_features=20, n_informative=10, n_redundant=4, flip_y=0.03, class_sep=0.8,
                               random_state=seed)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"f{i:02d}" for i in range(20)])
    frame["region"] = np.array([f"R{i:02d}" for i in range(12)])[np.digitize(X[:, 1], np.linspace(-3, 3, 11))]
    frame["plan"] = np.array(["basic", "plus", "pro", "team"])[np.digitize(X[:, 2] + rng.normal(0, 1, rows),
                                                                          [-1, 0, 1])]
    frame["channel"] = rng.choice(["web", "app", "store", "phone", "partner", "mail"], rows,
                                  p=[0.35, 0.3, 0.15, 0.1, 0.06, 0.04])
    for column in ["f03", "f07", "f11", "f15"]:
        frame.loc[rng.random(rows) < 0.01, column] = np.nan
    frame["churned"] = np.where(y == 1, "yes", "no")
    return frame


class RssSampler(threading.Thread):
    """Peak RSS of a process and of each process it starts, sampled until stopped."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.stopped = pid, every, threading.Event()
        self.main_peak, self.child_peaks, self.kinds = 0, {}, {}

    def run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self.stopped.is_set():
            try:
                self.main_peak = max(self.main_peak, root.memory_info().rss)
                for child in root.children(recursive=True):
                    try:
                        if child.pid not in self.kinds:
                            self.kinds[child.pid] = "spawn_main" in " ".join(child.cmdline())
                        rss = child.memory_info().rss
                    except psutil.Error:
                        continue
                    if self.kinds[child.pid]:  # a spawned worker (not multiprocessing's resource tracker)
                        self.child_peaks[child.pid] = max(self.child_peaks.get(child.pid, 0), rss)
            except psutil.Error:
                return
            time.sleep(self.every)


def child(args) -> None:
    """One training, in this process; prints one JSON line with its timings."""
    import logging

    from infra.settings import Settings
    from trainer.api import train
    from trainer.progress import Progress

    logging.disable(logging.WARNING)

    class Stages(Progress):
        def __init__(self):
            self.marks = [("start", time.perf_counter())]

        def stage(self, text: str) -> None:
            self.marks.append((text, time.perf_counter()))

        def fitted(self, family: str, metrics: dict) -> None:
            self.marks.append((f"fitted {family}", time.perf_counter()))

    settings = Settings(data_dir=Path(args.data_dir), split_seed=7, **json.loads(args.settings))
    stages = Stages()
    started = time.perf_counter()
    outcome = train(settings, dataset=args.csv, target="churned", schema=Path(args.data_dir) / "schema.yaml",
                    families=args.families, progress=stages)
    seconds = time.perf_counter() - started
    marks = [(name, round(t - started, 1)) for name, t in stages.marks]
    print(json.dumps({"seconds": seconds, "runs": {c.family: c.run_id for c in outcome.candidates}, "marks": marks,
                      "mlflow": settings.resolved_mlflow_uri}), flush=True)


def run_peer(name: str, csv: Path, tmp: Path, families: list[str]) -> dict:
    data_dir = tmp / name.replace(", ", "-").replace(" ", "_")
    cmd = [sys.executable, __file__, "--child", "--csv", str(csv), "--data-dir", str(data_dir),
           "--settings", json.dumps(PEERS[name]), "--families", *families]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    sampler.stopped.set()
    sampler.join()
    if proc.returncode:
        raise RuntimeError(f"{name} failed ({proc.returncode}):\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    workers = sorted(sampler.child_peaks.values(), reverse=True)  # the Dask workers, or the local Fitter's pool
    return {**result, "main_peak": sampler.main_peak, "worker_peaks": workers}


def unseen_auc(mlflow_uri: str, run_id: str, unseen: pd.DataFrame) -> float:
    import mlflow
    import mlflow.sklearn

    from trainer.metrics import score

    mlflow.set_tracking_uri(mlflow_uri)
    model = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    proba = model.predict_proba(unseen.drop(columns="churned"))
    return score(unseen["churned"], proba, list(model.classes_))["roc_auc"]


def mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def main(args) -> None:
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    tmp = Path(tempfile.mkdtemp(prefix="driftline-bench-train-"))
    started = time.perf_counter()
    frame = generate(args.rows + args.unseen)
    csv = tmp / "churn.csv"
    frame.iloc[: args.rows].to_csv(csv, index=False)
    unseen = frame.iloc[args.rows:].reset_index(drop=True)
    del frame
    print(f"data: {args.rows:,} rows x {unseen.shape[1]} columns (20 numeric, 3 text categories, yes/no target), "
          f"CSV {csv.stat().st_size / 2**20:,.0f} MiB, generated in {time.perf_counter() - started:.0f} s; "
          f"families: {', '.join(args.families)}; {args.unseen:,} unseen rows for ROC AUC")
    results = {}
    for name in args.peers:
        results[name] = run_peer(name, csv, tmp, args.families)
        print(f"  {name}: {results[name]['seconds']:.0f} s, stages (s from start): "
              + ", ".join(f"{m} {t}" for m, t in results[name]["marks"][1:]), flush=True)
    aucs = {name: {f: unseen_auc(r["mlflow"], r["runs"][f], unseen) for f in args.families}
            for name, r in results.items()}

    head = f"{'backend':<18}{'wall s':>8}{'rows/s':>10}{'peak RSS main':>15}{'peak RSS per worker':>22}"
    print("\n" + head + "".join(f"{'AUC ' + f:>18}" for f in args.families))
    for name, r in results.items():
        workers = " / ".join(mib(p) for p in r["worker_peaks"]) or "-"
        print(f"{name:<18}{r['seconds']:>8.0f}{args.rows / r['seconds']:>10,.0f}{mib(r['main_peak']):>15}"
              f"{workers:>22}" + "".join(f"{aucs[name][f]:>18.4f}" for f in args.families))
    dask = results.get("dask, 2 workers")
    for name in (n for n in ("local", "local, 1 process") if n in results and dask):
        local = results[name]
        print(f"\nrows/s, dask (2 workers) / {name}: {local['seconds'] / dask['seconds']:.2f}x")
        for f in args.families:
            print(f"ROC AUC {f}: dask - {name} = {aucs['dask, 2 workers'][f] - aucs[name][f]:+.4f}")
    if dask and "local, 1 process" in results:
        one = results["local, 1 process"]
        print(f"peak RSS of the largest Dask worker / one local process for the same data: "
              f"{max(dask['worker_peaks']) / one['main_peak']:.2f} ({mib(max(dask['worker_peaks']))} vs "
              f"{mib(one['main_peak'])}); the Dask client process peaked at {mib(dask['main_peak'])}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_200_000)
    parser.add_argument("--unseen", type=int, default=200_000)
    parser.add_argument("--families", nargs="+", default=["xgboost", "lightgbm"])
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS),
                        help="which trainings to run (default: all three)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.child:
        child(parsed)
    else:
        from bench.common import run_with_load_report

        os.environ.setdefault("PYTHONHASHSEED", "0")
        run_with_load_report(lambda: main(parsed))
