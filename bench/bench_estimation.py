"""Estimation benchmark: estimated against realized quality per monitor window, calibrated model against the same
model uncalibrated (the peer), under covariate shift (no concept change) and under concept change.

    .venv/bin/python bench/bench_estimation.py [--seeds 5] [--windows 20] [--window 1000] [--train-rows 569,5000]

Per seed and training size (569 rows: breast cancer's size), a training set from a world with a known label
relation (bench/ground_truth.py), the four families fitted as the trainer fits them (trainer.fitting.fit_candidate:
calibrated by cross-fit), the best by F1 kept, as `driftline train` does. Then each scenario streams `--windows` windows of `--window` rows (the
monitor's default window), drifted from the first row, with labels drawn from the true relation:
  - control; mean radius +1.5 sd (the README's `simulate --shift "mean radius=1.5"`); the teacher's three most
    important features +2.5 sd (issue 14's harmful shift); no concept change in any of them;
  - concept change: the relation flips inside the top 30% (and 10%) of the teacher's most important feature.
Each window is estimated from its scores with consumers/monitor/estimation.py, the code the monitor runs, and
compared with the realized value on the same rows. Figures:
  within_2se   share of windows with |estimated - realized accuracy| <= 2 SE, SE = sqrt(a(1-a)/n) the window's
               sampling error, a = estimated accuracy, n = rows (the issue's target)
  within_2se_cal  the same with the calibration's sampling error added: SE = sqrt(a(1-a)/n + calibration sd^2)
  cover_*      share of windows whose realized value lies in the 95% interval (accuracy, F1, ROC AUC)
  abs_error    mean |estimated - realized| accuracy
  invalid      share of windows the check flags (every row labelled)
  f1_drop, alert  mean (reference estimate - window estimate) of F1, and share of windows where it is >= DROP
  first invalid  the first window flagged after a concept change (1 = the first labelled window), with every row
               labelled and with 10% labelled (median over seeds)
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ground_truth import TARGET, Drift, World  # noqa: E402
from consumers.monitor import estimation  # noqa: E402
from consumers.monitor.score_bins import ScoreBins  # noqa: E402
from schemas.model import Candidate  # noqa: E402
from trainer import calibration, pipelines, selection  # noqa: E402
from trainer.fitting import FitJob, fit_candidate  # noqa: E402

DROP = 0.03  # estimated F1 below the reference estimate by this much: the monitor's estimated_quality condition


def scenarios(world: World) -> dict[str, tuple[Drift, bool]]:
    """name -> (drift, whether the relation between inputs and outcome changes)."""
    top = world.ranked
    return {
        "control": (Drift(), False),
        "mean radius +1.5 sd": (Drift(shift=(("mean_radius", 1.5),)), False),
        f"top-3 features +2.5 sd ({', '.join(top[:3])})": (Drift(shift=tuple((f, 2.5) for f in top[:3])), False),
        f"concept: flip top 30% of {top[0]}": (Drift(flip=(top[0], 0.3)), True),
        f"concept: flip top 10% of {top[0]}": (Drift(flip=(top[0], 0.1)), True),
    }


def train(world: World, seed: int, rows: int = 569):
    """The trainer's way: four families, calibrated by cross-fit, best by F1 on the hold-out.

    Returns (the best Fitted, its family, the hold-out frame, training rows)."""
    from sklearn.model_selection import train_test_split

    data = world.labelled(rows, np.random.default_rng(seed))
    train_part, holdout = train_test_split(data, test_size=0.25, random_state=42, stratify=data[TARGET])
    fitted = {}
    for family in pipelines.FAMILIES:
        job = FitJob(family, train_part.reset_index(drop=True), holdout.reset_index(drop=True), TARGET,
                     world.features, [], [0, 1], seed)
        fitted[family] = fit_candidate(job)
    best = selection.best([Candidate(family=f, run_id=f, metrics=x.metrics) for f, x in fitted.items()], "f1", "roc_auc")
    return fitted[best.family], best.family, holdout, len(train_part)


def judge(scores: np.ndarray, labels: np.ndarray, cal_sd: float, reference_f1: float, seed: int) -> dict:
    bins = ScoreBins()
    bins.add(scores, labels)
    est = estimation.estimate(bins, True, calibration_sd=cal_sd, seed=seed)
    real = estimation.realized(bins, True)
    a, n = est["accuracy"].value, len(scores)
    se = np.sqrt(a * (1 - a) / n)
    out = {"within_2se": abs(a - real["accuracy"]) <= 2 * se,
           "within_2se_cal": abs(a - real["accuracy"]) <= 2 * np.sqrt(se ** 2 + cal_sd ** 2),
           "error": a - real["accuracy"],
           "drop": reference_f1 - est["f1"].value,
           "invalid": estimation.check(bins, True, calibration_sd=cal_sd, seed=seed).valid is False}
    for name in ("accuracy", "f1", "roc_auc"):
        out[f"cover_{name}"] = est[name].lower <= real[name] <= est[name].upper
    return out


def first_invalid(scores: list[np.ndarray], labels: list[np.ndarray], cal_sd: float, share: float,
                  rng: np.random.Generator) -> int | None:
    for w, (s, y) in enumerate(zip(scores, labels, strict=True), start=1):
        keep = rng.random(len(s)) < share
        bins = ScoreBins()
        bins.add(s[keep], y[keep])
        if estimation.check(bins, True, calibration_sd=cal_sd, seed=w).valid is False:
            return w
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--window", type=int, default=1000, help="rows per window (the monitor's default)")
    parser.add_argument("--train-rows", default="569,5000",
                        help="training data set sizes, comma-separated (breast cancer: 569)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    world = World()
    records, firsts, models = [], [], []
    started = time.perf_counter()
    for size in (int(v) for v in args.train_rows.split(",")):
        for seed in range(args.seeds):
            fitted, family, holdout, train_rows = train(world, seed, size)
            # As the monitor does: calibration sd from the hold-out accuracy and the rows the calibrator saw.
            cal_sd = estimation.calibration_sd(fitted.metrics["accuracy"], train_rows)
            peers = {"calibrated (ours)": fitted.pipeline,
                     "uncalibrated (peer)": calibration.uncalibrated(fitted.pipeline)}
            reference = {}
            for model_name, model in peers.items():
                bins = ScoreBins()
                bins.add(model.predict_proba(holdout[world.features])[:, 1])
                reference[model_name] = estimation.estimate(bins, True)["f1"].value
            models.append(f"{size} rows, seed {seed}: {family}, hold-out ECE {fitted.metrics['ece_uncalibrated']:.3f} "
                          f"uncalibrated, {fitted.metrics['ece']:.3f} calibrated; calibration sd {cal_sd:.4f}")
            for s_i, (name, (drift, concept)) in enumerate(scenarios(world).items()):
                rng = np.random.default_rng(1000 * seed + s_i)
                rows, labels = world.stream(args.windows * args.window, rng, drift)
                for model_name, model in peers.items():
                    scores = model.predict_proba(rows[world.features])[:, 1]
                    split_s = np.split(scores, args.windows)
                    split_y = np.split(labels, args.windows)
                    key = {"train rows": size, "scenario": name, "model": model_name}
                    for w, (s, y) in enumerate(zip(split_s, split_y, strict=True)):
                        records.append({**key, "seed": seed, **judge(s, y, cal_sd, reference[model_name], w)})
                    if concept:
                        for share in (1.0, 0.1):
                            firsts.append({**key, "share": share,
                                           "first": first_invalid(split_s, split_y, cal_sd, share,
                                                                  np.random.default_rng(seed))})
    frame = pd.DataFrame(records)
    frame["abs_error"] = frame["error"].abs()
    frame["alert"] = frame["drop"] >= DROP
    keys = ["train rows", "scenario", "model"]
    table = frame.groupby(keys, sort=False).agg(
        windows=("within_2se", "size"), within_2se=("within_2se", "mean"), within_2se_cal=("within_2se_cal", "mean"),
        cover_acc=("cover_accuracy", "mean"), cover_f1=("cover_f1", "mean"), cover_auc=("cover_roc_auc", "mean"),
        abs_error=("abs_error", "mean"), invalid=("invalid", "mean"), f1_drop=("drop", "mean"), alert=("alert", "mean"))
    for col in ("within_2se", "within_2se_cal", "cover_acc", "cover_f1", "cover_auc", "invalid", "alert"):
        table[col] = (100 * table[col]).map("{:.1f}%".format)
    for col in ("abs_error", "f1_drop"):
        table[col] = table[col].map("{:.4f}".format)
    control = frame[frame.scenario == "control"]
    bias = control.groupby(["train rows", "model", "seed"])["error"].mean().groupby(["train rows", "model"]).std()
    first = pd.DataFrame(firsts)
    if len(first):
        first["first"] = first["first"].astype(float)
        for share, label in ((1.0, "first invalid (all labelled)"), (0.1, "first invalid (10% labelled)")):
            median = first[first.share == share].groupby(keys, sort=False)["first"].median()
            table[label] = median.reindex(table.index).map(lambda v: "-" if pd.isna(v) else f"{v:.0f}")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)
    print(f"{args.seeds} seeds x {args.windows} windows of {args.window} rows per scenario; "
          f"targets: within 2 SE >= 95%, coverage >= 93% (covariate shift), first invalid = 1 (concept change)")
    print("\n".join(models))
    print("bias of the accuracy estimate in control (mean per seed), sd over seeds: "
          + ", ".join(f"{rows} rows {m} {v:.4f}" for (rows, m), v in bias.items()))
    print()
    print(table.to_string())
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
