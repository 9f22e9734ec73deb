"""Estimated performance before the labels: accuracy, F1 and ROC AUC from calibrated probabilities alone.

Confidence-based estimation (CBPE, as NannyML calls it): if the served probabilities are calibrated, a row's true
label is a draw from them, so a window's realized metric is a random variable whose distribution the scores alone
determine. We sample it (`draws` label vectors, vectorised over score bins): its mean is the estimate. Two classes:
accuracy, F1 of the positive class, ROC AUC; more classes: accuracy only (a row is correct with the probability of
its predicted class).

The interval adds two independent errors: the window's own label sampling (the sampled distribution's spread) and
the calibration's (`calibration_sd`): a calibrator fitted on n rows knows the confidence level only to about
sqrt(a(1-a)/n) of accuracy. On the 569-row built-in data set that is about 0.01, larger than a 1000-row window's
sampling error (0.006): measured by bench/bench_estimation.py, the calibrated estimate's bias over seeds has an sd
of 0.012 there, and 0.004 with 5,000 training rows.

The check: once labels arrive, the same distribution for the labelled rows says where their realized metric should
fall. Farther than `z` of its sd (sampling and calibration; Bonferroni over the metrics, so a well-calibrated model
is flagged in about `false_rate` of windows) means the probabilities no longer describe the outcome: the relation
between inputs and outcome changed, or the model is extrapolating far outside its training data. Below `min_rows`
labelled rows nothing is judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from consumers.monitor.score_bins import BINS, ScoreBins

DRAWS = 500  # the 2.5% quantile to about 0.12 sd (Monte Carlo error); 3 ms per 1000-row window (bench_detection)
CONFIDENCE = 0.95
FALSE_RATE = 0.001  # per judged window, over all its metrics
MIN_ROWS = 50
ROW_DRAWS = 4000  # up to this many rows, draw per row (uniforms, ~6x faster than numpy's binomial per bin)
CHUNK = 200


@dataclass(frozen=True)
class Interval:
    value: float
    lower: float
    upper: float
    sd: float


@dataclass(frozen=True)
class Validity:
    valid: bool | None  # None: too few labelled rows to judge
    reason: str
    expected: dict[str, Interval]
    realized: dict[str, float]


def metric_names(binary: bool) -> tuple[str, ...]:
    return ("accuracy", "f1", "roc_auc") if binary else ("accuracy",)


def metrics_of(rows: np.ndarray, positives: np.ndarray, bins: np.ndarray, binary: bool) -> dict[str, np.ndarray]:
    """Each metric once per line of `positives` (lines x occupied bins), bins in score order."""
    positives = np.atleast_2d(positives)
    n = rows.sum()
    if not binary:
        return {"accuracy": positives.sum(axis=1) / n}
    negatives = rows - positives
    said_positive = bins >= BINS // 2
    tp, fp = positives[:, said_positive].sum(axis=1), negatives[:, said_positive].sum(axis=1)
    fn, tn = positives[:, ~said_positive].sum(axis=1), negatives[:, ~said_positive].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        below = np.cumsum(negatives, axis=1) - negatives  # negatives scored lower than each bin
        pairs = (tp + fn) * (fp + tn)
        auc = np.where(pairs > 0, (positives * (below + 0.5 * negatives)).sum(axis=1) / pairs, np.nan)
    return {"accuracy": (tp + tn) / n, "f1": f1, "roc_auc": auc}


def _draw(rows: np.ndarray, p: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Positives per bin in `draws` label vectors drawn from the probabilities."""
    n = int(rows.sum())
    if n > ROW_DRAWS:
        return rng.binomial(rows, np.clip(p, 0, 1), size=(draws, len(rows)))
    hits = (rng.random((draws, n)) < np.repeat(p, rows)).view(np.uint8)
    return np.add.reduceat(hits, np.concatenate([[0], np.cumsum(rows)[:-1]]), axis=1, dtype=np.int64)


def _distribution(bins: ScoreBins, binary: bool, draws: int, seed: int) -> dict[str, np.ndarray]:
    j, rows, p, _ = bins.occupied()
    rng = np.random.default_rng(seed)
    # In chunks that stay in cache: 1000 draws x 1000 rows at once took 46 ms, in chunks of 200 about 6 ms.
    parts = [metrics_of(rows, _draw(rows, p, min(CHUNK, draws - start), rng), j, binary)
             for start in range(0, draws, CHUNK)]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def calibration_sd(accuracy: float | None, rows: int) -> float:
    """How well a calibrator fitted on `rows` rows of a model this accurate knows the confidence level."""
    if accuracy is None or rows <= 0:
        return 0.0
    return float(np.sqrt(accuracy * (1 - accuracy) / rows))


def _interval(values: np.ndarray, confidence: float, calibration: float) -> Interval | None:
    from scipy.stats import norm

    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    mean = float(values.mean())
    lo, hi = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
    extra = (float(norm.ppf((1 + confidence) / 2)) * calibration) ** 2  # independent errors add in quadrature
    return Interval(mean, float(mean - np.sqrt((mean - lo) ** 2 + extra)), float(mean + np.sqrt((hi - mean) ** 2 + extra)),
                    float(np.sqrt(values.var() + calibration ** 2)))


def estimate(bins: ScoreBins, binary: bool, *, calibration_sd: float = 0.0, draws: int = DRAWS,
             confidence: float = CONFIDENCE, seed: int = 0) -> dict[str, Interval]:
    """metric -> estimate with its interval, from the scores alone (seeded: the same rows give the same answer)."""
    if bins.n == 0:
        return {}
    out = {name: _interval(values, confidence, calibration_sd)
           for name, values in _distribution(bins, binary, draws, seed).items()}
    return {name: interval for name, interval in out.items() if interval is not None}


def realized(bins: ScoreBins, binary: bool) -> dict[str, float]:
    """metric -> its value on the labelled rows (their positives), computed the way the estimate's draws are."""
    if bins.n == 0:
        return {}
    j, rows, _, positives = bins.occupied()
    values = metrics_of(rows, positives, j, binary)
    return {name: float(v[0]) for name, v in values.items() if np.isfinite(v[0])}


def check(labelled: ScoreBins, binary: bool, *, calibration_sd: float = 0.0, min_rows: int = MIN_ROWS,
          false_rate: float = FALSE_RATE, draws: int = DRAWS, confidence: float = CONFIDENCE,
          seed: int = 0) -> Validity:
    """Is the realized quality of the labelled rows where their probabilities say it should be?"""
    from scipy.stats import norm

    expected = estimate(labelled, binary, calibration_sd=calibration_sd, draws=draws, confidence=confidence,
                        seed=seed)
    actual = realized(labelled, binary)
    n = labelled.n
    if n < min_rows:
        return Validity(None, f"{n} labelled row(s) in the window; the estimate is judged from {min_rows}",
                        expected, actual)
    names = [m for m in metric_names(binary) if m in expected and m in actual]
    z = float(norm.ppf(1 - false_rate / (2 * max(len(names), 1))))
    off = []
    for name in names:
        band = z * expected[name].sd
        if abs(actual[name] - expected[name].value) > band:
            off.append(f"realized {name} {actual[name]:.3f} vs estimated {expected[name].value:.3f} "
                       f"(band ±{band:.3f})")
    if off:
        return Validity(False, f"on {n} labelled rows " + "; ".join(off) + ": the probabilities no longer describe "
                               "the outcome (the relation between inputs and outcome changed, or the model is "
                               "extrapolating beyond its training data)", expected, actual)
    return Validity(True, f"realized {', '.join(names)} on {n} labelled rows within {z:.2f} sd of the estimate",
                    expected, actual)
