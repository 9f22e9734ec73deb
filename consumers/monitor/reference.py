"""The reference profile: what 'no drift' looks like, taken from the champion's training data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from consumers.monitor.impact import build as impact_model
from consumers.monitor.window_estimate import EstimationRef, reference_estimation

PREDICTION = "__prediction__"
NUMERIC_TYPES = {"double", "float", "long", "integer", "int", "number"}


@dataclass(frozen=True)
class NumericRef:
    """One numeric column: its sorted reference values (for ranks) and fixed histogram bins."""

    name: str
    sorted_values: np.ndarray
    bin_ref: np.ndarray  # reference share per bin
    bin_width: np.ndarray  # bin widths in reference standard deviations (for Wasserstein-1)

    @property
    def n(self) -> int:
        return len(self.sorted_values)


@dataclass(frozen=True)
class CategoricalRef:
    """One categorical column: its categories (the last is 'other') and their reference shares."""

    name: str
    categories: list[str]
    shares: np.ndarray


@dataclass(frozen=True)
class Profile:
    """Everything the detectors compare a stream with; built once per champion version."""

    model: str
    version: str
    numeric: list[NumericRef]
    categorical: list[CategoricalRef]
    error_rate: float | None = None  # reference error rate of the model, if it could be measured
    positive_class: str | None = None  # class whose probability is the prediction column
    meta: dict = field(default_factory=dict)
    estimation: EstimationRef | None = None  # estimated performance: needs a model and labelled hold-out data
    impact: Any = field(default=None, compare=False)  # impact.ImpactModel: the champion's view of its features

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.numeric] + [c.name for c in self.categorical]

    @property
    def features(self) -> list[str]:
        return [c for c in self.columns if c != PREDICTION]


def numeric_ref(name: str, values: np.ndarray, bins: int) -> NumericRef:
    """Sorted reference values and quantile bins defined by rank, so a bin is found from the rank alone."""
    values = np.sort(values[~np.isnan(values)].astype(float))
    n = len(values)
    left = np.searchsorted(values, values, side="left")
    bin_ref = np.bincount(np.minimum(left * bins // n, bins - 1), minlength=bins) / n
    edges = np.quantile(values, np.linspace(0, 1, bins + 1))
    std = values.std() or 1.0
    return NumericRef(name, values, bin_ref, np.diff(edges) / std)


def categorical_ref(name: str, values: Sequence, max_categories: int = 20) -> CategoricalRef:
    """Most frequent categories plus 'other'; shares smoothed so no category has zero reference mass."""
    counts = pd.Series([str(v) for v in values]).value_counts()
    cats = list(counts.index[:max_categories])
    raw = np.append(counts.iloc[:max_categories].to_numpy(float), counts.iloc[max_categories:].sum())
    shares = (raw + 0.5) / (raw.sum() + 0.5 * len(raw))
    return CategoricalRef(name, [*cats, "__other__"], shares)


def build_profile(
    frame: pd.DataFrame,
    features: list[str],
    feature_types: dict[str, str],
    *,
    model: str = "model",
    version: str = "0",
    target: str | None = None,
    predict_proba: Callable[[pd.DataFrame], np.ndarray] | None = None,
    classes: list | None = None,
    holdout: pd.DataFrame | None = None,
    bins: int = 10,
    calibrated: bool = False,
) -> Profile:
    """A profile from the reference frame; with a model, also its prediction column, reference error rate and the
    reference of its estimated performance (`calibrated`: the trainer calibrated its probabilities)."""
    numeric, categorical = [], []
    for name in features:
        if feature_types.get(name, "double") in NUMERIC_TYPES:
            numeric.append(numeric_ref(name, frame[name].to_numpy(float), bins))
        else:
            categorical.append(categorical_ref(name, frame[name].tolist()))
    error_rate = positive = estimated = None
    if predict_proba is not None and classes:
        proba = predict_proba(frame[features])
        if len(classes) == 2:
            positive = str(classes[1])
            numeric.append(numeric_ref(PREDICTION, proba[:, 1], bins))
        else:
            categorical.append(categorical_ref(PREDICTION, [classes[i] for i in proba.argmax(1)]))
        check = holdout if holdout is not None else frame
        if target and target in check:
            check_proba = predict_proba(check[features])
            predicted = np.asarray(classes)[check_proba.argmax(1)]
            error_rate = float(np.mean(predicted.astype(str) != check[target].to_numpy().astype(str)))
            estimated = reference_estimation(check_proba, check[target], classes, len(frame), calibrated)
    return Profile(model, version, numeric, categorical, error_rate, positive, {"reference_rows": len(frame)},
                   estimated)


def load_champion_profile(settings) -> tuple[Profile, pd.DataFrame] | None:
    """The champion's profile and reference features from the registry (blocking: run it in a thread)."""
    from infra.models import (
        RECENT_ARTIFACT,
        TARGET_TAG,
        configure_mlflow,
        load_alias,
        load_run_frame,
        monitoring_artifacts,
    )

    configure_mlflow(settings)
    loaded = load_alias(settings)
    if loaded is None:
        return None
    import mlflow

    run = mlflow.get_run(loaded.run_id)
    target = run.data.tags.get(TARGET_TAG)
    # Today's traffic when the version learned from it (its recent rows judge drift, error rate and the estimate's
    # baseline alike), else its training part and hold-out split.
    reference_artifact, holdout_artifact = monitoring_artifacts(loaded.run_id)
    reference = load_run_frame(loaded.run_id, reference_artifact)
    try:
        holdout = load_run_frame(loaded.run_id, holdout_artifact)
    except Exception:  # older runs without a hold-out: the error rate is measured on the reference itself
        holdout = None
    profile = build_profile(reference, loaded.features, loaded.feature_types, model=loaded.name,
                            version=loaded.version, target=target, predict_proba=loaded.model.predict_proba,
                            classes=loaded.classes, holdout=holdout, calibrated="ece" in run.data.metrics)
    meta = {**profile.meta, "run_id": loaded.run_id, "holdout_rows": len(holdout) if holdout is not None else 0,
            "reference": "recent production rows" if reference_artifact == RECENT_ARTIFACT else "training data"}
    impact = None
    if loaded.classes and len(loaded.classes) == 2:  # the effect of a drift is read on the positive probability
        features = loaded.features

        def positive(frame: pd.DataFrame) -> np.ndarray:
            return np.asarray(loaded.model.predict_proba(frame[features]))[:, 1]

        numeric = [f for f in features if loaded.feature_types.get(f, "double") in NUMERIC_TYPES]
        impact = impact_model(positive, reference[features], numeric)
    return replace(profile, meta=meta, impact=impact), reference[loaded.features]
