"""What a drift does to the champion: each feature's share of its prediction sensitivity, and how the window's
values of a drifted feature move its predictions, all else equal. Pure: a predict function and frames in.

Both are measured with the champion itself on a sample of its reference rows, so they hold for any model family
(a tree's split counts or a linear model's coefficients are not comparable across families, nor with drift).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schemas.monitoring import Distribution, FeatureImpact, WindowImpact

PredictPositive = Callable[[pd.DataFrame], np.ndarray]  # rows -> probability of the positive class
SAMPLE_ROWS = 300  # reference rows the effects are measured on: ~2 ms a feature for a forest here
SHOWN_ROWS = 5000  # reference rows kept to draw a drifted feature's distribution (a histogram needs no more)
BINS = 16  # equal-width bins a person reads a histogram by (quantile bins would make the reference look flat)
CATEGORIES = 8  # categories shown by name; the rest as "other"


@dataclass(frozen=True)
class ImpactModel:
    """The champion's view of its features: a reference sample, its predictions, and each feature's sensitivity."""

    predict: PredictPositive
    sample: pd.DataFrame
    base: np.ndarray  # positive probability of each sample row
    importance: dict[str, float]  # feature -> share of sensitivity (sums to 1)
    numeric: frozenset[str]
    means: dict[str, float]
    stds: dict[str, float]
    categories: dict[str, pd.Series]  # categorical feature -> reference shares
    shown: pd.DataFrame | None = None  # reference rows kept for the distributions a person sees

    @property
    def positive_rate(self) -> float:
        return float(np.mean(self.base >= 0.5))


def build(predict: PredictPositive, reference: pd.DataFrame, numeric: Sequence[str], *, seed: int = 0) -> ImpactModel:
    """Sample the reference and measure each feature's permutation sensitivity (mean |change| in probability)."""
    rng = np.random.default_rng(seed)
    sample = reference.sample(min(SAMPLE_ROWS, len(reference)), random_state=seed).reset_index(drop=True)
    base = np.asarray(predict(sample), dtype=float)
    raw = {}
    for feature in sample.columns:
        shuffled = sample.copy()
        shuffled[feature] = rng.permutation(shuffled[feature].to_numpy())
        raw[feature] = float(np.mean(np.abs(np.asarray(predict(shuffled), dtype=float) - base)))
    total = sum(raw.values()) or 1.0
    nums = frozenset(numeric)
    return ImpactModel(
        predict=predict, sample=sample, base=base, importance={f: v / total for f, v in raw.items()}, numeric=nums,
        means={f: float(reference[f].mean()) for f in nums if f in reference},
        stds={f: float(reference[f].std() or 1.0) for f in nums if f in reference},
        categories={f: reference[f].astype(str).value_counts(normalize=True) for f in reference.columns if f not in nums},
        shown=reference.sample(min(SHOWN_ROWS, len(reference)), random_state=seed).reset_index(drop=True))


def distribution(model: ImpactModel, feature: str, window: pd.DataFrame) -> Distribution | None:
    """Reference against window on shared bins: equal-width over both ranges (1st to 99th percentile, the end bins
    holding the tails) for a numeric feature; the most common categories for a categorical one."""
    if model.shown is None or feature not in model.shown:
        return None
    if feature in model.numeric:
        ref = pd.to_numeric(model.shown[feature], errors="coerce").dropna().to_numpy(float)
        now = pd.to_numeric(window[feature], errors="coerce").dropna().to_numpy(float)
        if not len(ref) or not len(now):
            return None
        lo = float(min(np.quantile(ref, 0.01), np.quantile(now, 0.01)))
        hi = float(max(np.quantile(ref, 0.99), np.quantile(now, 0.99)))
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, BINS + 1)

        def shares(values: np.ndarray) -> list[float]:
            counts = np.bincount(np.clip(np.searchsorted(edges, values, side="right") - 1, 0, BINS - 1),
                                 minlength=BINS)
            return [round(float(c), 4) for c in counts / len(values)]

        return Distribution(edges=[float(f"{e:.6g}") for e in edges], reference=shares(ref), window=shares(now))
    ref = model.shown[feature].astype(str).value_counts(normalize=True)
    now = window[feature].astype(str).value_counts(normalize=True)
    names = list(ref.add(now, fill_value=0).sort_values(ascending=False).index[:CATEGORIES])
    rest = [1 - float(ref.reindex(names, fill_value=0).sum()), 1 - float(now.reindex(names, fill_value=0).sum())]
    if max(rest) > 1e-9:
        names.append("other")
    pick = [n for n in names if n != "other"]
    ref_shares = [*ref.reindex(pick, fill_value=0).tolist(), *([rest[0]] if "other" in names else [])]
    now_shares = [*now.reindex(pick, fill_value=0).tolist(), *([rest[1]] if "other" in names else [])]
    return Distribution(categories=names, reference=[round(float(v), 4) for v in ref_shares],
                        window=[round(float(v), 4) for v in now_shares])


def feature_impact(model: ImpactModel, feature: str, window: pd.DataFrame, *, seed: int = 0) -> FeatureImpact:
    """The reference sample with this feature's values drawn from the window: how the predictions move."""
    values = window[feature].dropna()
    if values.empty:  # a feature turned all null: the model sees its missing-value handling
        values = pd.Series([np.nan] * len(window))
    drawn = values.sample(len(model.sample), replace=True, random_state=seed).to_numpy()
    moved = model.sample.copy()
    moved[feature] = drawn
    proba = np.asarray(model.predict(moved), dtype=float)
    if feature in model.numeric:
        mean = float(pd.to_numeric(window[feature], errors="coerce").mean())
        shift = (mean - model.means[feature]) / model.stds[feature] if np.isfinite(mean) else 0.0
        ref_mean, win_mean = model.means[feature], (mean if np.isfinite(mean) else None)
    else:
        now = window[feature].astype(str).value_counts(normalize=True)
        ref = model.categories[feature]
        shift = 0.5 * float(now.reindex(ref.index.union(now.index), fill_value=0)
                            .sub(ref.reindex(ref.index.union(now.index), fill_value=0)).abs().sum())
        ref_mean = win_mean = None
    return FeatureImpact(feature=feature, importance=round(model.importance.get(feature, 0.0), 6),
                         shift=round(float(shift), 4), effect=round(float(np.mean(proba - model.base)), 4),
                         flip_rate=round(float(np.mean((proba >= 0.5) != (model.base >= 0.5))), 4),
                         reference_mean=ref_mean, window_mean=win_mean,
                         distribution=distribution(model, feature, window))


def window_impact(model: ImpactModel, rows: list[dict], drifted: Sequence[str], positive_rate: float | None,
                  positive_class: str | None) -> WindowImpact:
    """The window's impact summary: the predicted positive share against the reference, and each drifted feature."""
    features = []
    if rows and drifted:
        window = pd.DataFrame(rows)
        features = [feature_impact(model, f, window) for f in drifted if f in window.columns and f in model.sample]
        features.sort(key=lambda f: -abs(f.effect))
    return WindowImpact(positive_class=positive_class, reference_positive_rate=round(model.positive_rate, 4),
                        positive_rate=None if positive_rate is None else round(positive_rate, 4), features=features)
