"""Calibration benchmark: which calibration the trainer uses, and on which rows, by the error it leaves.

    .venv/bin/python bench/bench_calibration.py [--seeds 10] [--rows 20000]

A world with a known label relation (bench/ground_truth.py): per seed, a training data set the size of breast
cancer (569 rows) split 75/25 as the trainer splits it; every family fitted uncalibrated and calibrated three ways
(cross-fit over the training part, as trainer/calibration.py does; a split of the training part, 20% calibrating
a frozen model fitted on 80%; a split of the hold-out, half calibrating the frozen model, which leaves the other
half to judge promotions) with three methods (temperature, sigmoid, isotonic). Judged on `--rows` fresh rows, in
distribution and under a 1.5 sd shift of mean radius: top-label ECE, |accuracy bias| (mean confidence against
the expected accuracy under the true relation: what the monitor's estimate would miss), Brier, CPU seconds per fit.
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
from trainer import calibration, pipelines  # noqa: E402

METHODS = ("temperature", "sigmoid", "isotonic")


def variants(family: str, train: pd.DataFrame, holdout: pd.DataFrame, features: list[str], seed: int):
    """(scheme, method) -> (fitted model, CPU seconds)."""
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import train_test_split

    unfitted = pipelines.build(family, features, [], [0, 1], seed)
    x, y = train[features], train[TARGET].to_numpy()
    started = time.process_time()
    base = clone(unfitted).fit(x, y)
    out = {("uncalibrated", "-"): (base, time.process_time() - started)}
    fit_part, cal_part = train_test_split(train, test_size=0.2, random_state=seed, stratify=train[TARGET])
    part = clone(unfitted).fit(fit_part[features], fit_part[TARGET].to_numpy())
    cal_h, _ = train_test_split(holdout, test_size=0.5, random_state=seed, stratify=holdout[TARGET])
    for method in METHODS:
        for folds in ((5, 3) if method == calibration.METHOD else (5,)):
            started = time.process_time()
            served, _ = calibration.calibrate(unfitted, x, y, seed=seed, method=method, folds=folds)
            out[(f"cross-fit, {folds} folds", method)] = (served, time.process_time() - started)
        frozen = CalibratedClassifierCV(FrozenEstimator(part), method=method)
        out[("split of the training part", method)] = (frozen.fit(cal_part[features], cal_part[TARGET].to_numpy()),
                                                       float("nan"))
        frozen = CalibratedClassifierCV(FrozenEstimator(base), method=method)
        out[("split of the hold-out", method)] = (frozen.fit(cal_h[features], cal_h[TARGET].to_numpy()), float("nan"))
    return out


def judge(model, rows: pd.DataFrame, labels: np.ndarray, p_true: np.ndarray, features: list[str]) -> dict:
    proba = model.predict_proba(rows[features])
    predicted = proba.argmax(axis=1)
    expected_accuracy = np.where(predicted == 1, p_true, 1 - p_true).mean()
    return {"ece": calibration.expected_calibration_error(labels, proba, [0, 1]),
            "bias": abs(proba.max(axis=1).mean() - expected_accuracy),
            "brier": calibration.brier(labels, proba, [0, 1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from sklearn.model_selection import train_test_split

    world = World()
    rng = np.random.default_rng(999)
    judged = {}
    for name, drift in (("in distribution", Drift()), ("mean radius +1.5 sd", Drift(shift=(("mean_radius", 1.5),)))):
        rows, labels = world.stream(args.rows, rng, drift)
        judged[name] = (rows, labels, world.p_true(rows))
    records = []
    for seed in range(args.seeds):
        data = world.labelled(569, np.random.default_rng(seed))
        train, holdout = train_test_split(data, test_size=0.25, random_state=42, stratify=data[TARGET])
        for family in pipelines.FAMILIES:
            for (scheme, method), (model, seconds) in variants(family, train, holdout, world.features, seed).items():
                for where, (rows, labels, p_true) in judged.items():
                    records.append({"scheme": scheme, "method": method, "family": family, "judged": where,
                                    "cpu_s": seconds, **judge(model, rows, labels, p_true, world.features)})
    frame = pd.DataFrame(records)
    table = frame.pivot_table(index=["scheme", "method"], columns="judged", values=["ece", "bias", "brier"],
                              aggfunc="mean").round(4)
    table["cpu s per fit"] = frame.groupby(["scheme", "method"])["cpu_s"].mean().round(2)
    pd.set_option("display.width", 200)
    print(f"{args.seeds} seeds x {len(pipelines.FAMILIES)} families, judged on {args.rows:,} fresh rows "
          f"(means; lower is better)\n")
    print(table.to_string())
    chosen = frame[(frame.scheme == f"cross-fit, {calibration.FOLDS} folds") & (frame.method == calibration.METHOD)]
    plain = frame[frame.scheme == "uncalibrated"]
    print(f"\nper family, in distribution: ECE uncalibrated -> cross-fit ({calibration.FOLDS} folds) {calibration.METHOD}")
    for family in pipelines.FAMILIES:
        before = plain[(plain.family == family) & (plain.judged == "in distribution")].ece.mean()
        after = chosen[(chosen.family == family) & (chosen.judged == "in distribution")].ece.mean()
        print(f"  {family:<20} {before:.4f} -> {after:.4f}  ({before / after:.1f}x)")


if __name__ == "__main__":
    main()
