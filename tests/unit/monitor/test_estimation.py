"""Estimated performance on seeded windows: near the realized value, intervals that cover, realized metrics as
sklearn computes them, and a flipped relation flagged in the first labelled window."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from consumers.monitor import estimation
from consumers.monitor.score_bins import ScoreBins, bin_of


def window(seed: int, rows: int = 1000, flip_above: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated scores and labels drawn from them; above `flip_above` the relation is flipped."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.4, 0.3, size=rows)  # confident mostly, like a good classifier
    truth = np.where(p > flip_above, 1 - p, p) if flip_above is not None else p
    return p, (rng.random(rows) < truth).astype(int)


def binned(scores, labels=None) -> ScoreBins:
    bins = ScoreBins()
    bins.add(scores, labels)
    return bins


def test_realized_metrics_are_sklearns():
    p, y = window(1)
    got = estimation.realized(binned(p, y), binary=True)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, p > 0.5))
    assert got["f1"] == pytest.approx(f1_score(y, p > 0.5))
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=2e-4)  # ties within a 1/1000 bin count half


def test_estimate_of_calibrated_windows_is_near_the_realized_value_and_its_interval_covers():
    errors, covered = [], {"accuracy": 0, "f1": 0, "roc_auc": 0}
    for seed in range(200):
        p, y = window(seed)
        est = estimation.estimate(binned(p), binary=True, seed=seed)
        real = estimation.realized(binned(p, y), binary=True)
        errors.append(est["accuracy"].value - real["accuracy"])
        for name in covered:
            covered[name] += est[name].lower <= real[name] <= est[name].upper
    sampling_se = np.sqrt(0.86 * 0.14 / 1000)  # realized accuracy of these windows: 0.86
    assert abs(np.mean(errors)) < sampling_se / 3  # unbiased
    assert np.mean(np.abs(errors) <= 2 * sampling_se) >= 0.95
    for name, hits in covered.items():
        assert 0.90 <= hits / 200 <= 0.99, (name, hits)


def test_calibration_error_widens_the_interval():
    p, _ = window(3)
    plain = estimation.estimate(binned(p), binary=True)["accuracy"]
    wide = estimation.estimate(binned(p), binary=True, calibration_sd=0.01)["accuracy"]
    assert wide.value == plain.value and wide.lower < plain.lower and wide.upper > plain.upper
    assert wide.sd == pytest.approx(np.sqrt(plain.sd ** 2 + 0.01 ** 2))
    assert estimation.calibration_sd(0.96, 426) == pytest.approx(np.sqrt(0.96 * 0.04 / 426))


def test_a_flipped_relation_is_flagged_invalid_in_the_first_labelled_window():
    p, y = window(7, flip_above=0.8)  # the relation flips for the most confident positives
    verdict = estimation.check(binned(p, y), binary=True, calibration_sd=0.01)
    assert verdict.valid is False and "accuracy" in verdict.reason and "changed" in verdict.reason
    p, y = window(7)
    assert estimation.check(binned(p, y), binary=True, calibration_sd=0.01).valid is True


def test_calibrated_windows_are_not_flagged_over_many_seeds():
    flagged = sum(estimation.check(binned(*window(seed)), binary=True, seed=seed).valid is False
                  for seed in range(300))
    assert flagged <= 2  # configured rate: 0.1% per window


def test_too_few_labels_are_not_judged():
    p, y = window(8, rows=20)
    verdict = estimation.check(binned(p, y), binary=True, min_rows=50)
    assert verdict.valid is None and "20 labelled" in verdict.reason and verdict.realized


def test_more_classes_estimate_accuracy_from_the_top_probability():
    rng = np.random.default_rng(4)
    confidence = rng.uniform(0.4, 1.0, size=2000)
    correct = rng.random(2000) < confidence
    est = estimation.estimate(binned(confidence), binary=False)
    assert set(est) == {"accuracy"}
    assert est["accuracy"].value == pytest.approx(confidence.mean(), abs=0.002)
    assert estimation.realized(binned(confidence, correct), binary=False) == {"accuracy": correct.mean()}


def test_bins_keep_a_half_on_the_negative_side_and_round_trip():
    assert bin_of(np.array([0.0, 0.5, 0.5001, 1.0])).tolist() == [0, 499, 500, 999]
    p, y = window(9, rows=300)
    bins = binned(p, y)
    again = ScoreBins.from_dict(json.loads(json.dumps(bins.to_dict())))
    assert estimation.realized(again, True) == estimation.realized(bins, True)
    assert estimation.estimate(again, True) == estimation.estimate(bins, True)  # seeded
    assert binned([np.nan, 0.3]).n == 1  # a prediction without the positive class's probability is left out
