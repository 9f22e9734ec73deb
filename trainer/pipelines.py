"""The four model families, each one sklearn pipeline with its own preprocessing.

Hyper-parameters are modest on purpose: `driftline up` trains a first model at start on a small machine.
Every estimator fits with one thread (candidates run in parallel processes instead) and is saved that way,
so serving never oversubscribes cores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

MISSING = "__missing__"

FAMILIES: dict[str, dict[str, Any]] = {
    "logistic_regression": {"C": 1.0, "max_iter": 1000},
    "random_forest": {"n_estimators": 150, "max_depth": 8, "min_samples_leaf": 2, "n_jobs": 1},
    "xgboost": {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.9, "n_jobs": 1,
                "tree_method": "hist", "eval_metric": "logloss"},
    "lightgbm": {"n_estimators": 150, "num_leaves": 15, "learning_rate": 0.1, "min_child_samples": 10,
                 "n_jobs": 1, "verbose": -1},
}


def preprocessor(numeric: list[str], categorical: list[str], scale: bool) -> ColumnTransformer:
    """Median imputation (and scaling) for numbers; missing as its own category, then one-hot, for text."""
    numeric_steps = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    categorical_steps = [
        # Training data carries NaN, JSON requests carry None: both become the one "missing" category.
        ("impute_nan", SimpleImputer(missing_values=np.nan, strategy="constant", fill_value=MISSING)),
        ("impute_none", SimpleImputer(missing_values=None, strategy="constant", fill_value=MISSING)),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ]
    return ColumnTransformer(
        [("numeric", Pipeline(numeric_steps), numeric), ("categorical", Pipeline(categorical_steps), categorical)],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def estimator(family: str, seed: int, classes: list[Any]):
    params = dict(FAMILIES[family])
    if family == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(random_state=seed, **params)
    if family == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=seed, **params)
    if family == "xgboost":
        from xgboost import XGBClassifier

        model = XGBClassifier(random_state=seed, **params)
        if list(classes) != list(range(len(classes))):  # XGBoost only takes labels 0..k-1
            from trainer.labels import EncodedLabels

            return EncodedLabels(model)
        return model
    if family == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(random_state=seed, **params)
    raise ValueError(f"unknown model family {family!r}; choose from {', '.join(FAMILIES)}")


def build(family: str, numeric: list[str], categorical: list[str], classes: list[Any], seed: int) -> Pipeline:
    """An unfitted pipeline: preprocessing then the family's classifier."""
    scale = family == "logistic_regression"  # trees do not care about scale
    return Pipeline([("preprocess", preprocessor(numeric, categorical, scale)), ("model", estimator(family, seed, classes))])


def feature_importance(pipeline: Pipeline) -> dict[str, float]:
    """Importance per transformed feature: |coefficient| for the linear model, the trees' own otherwise."""
    names = list(pipeline.named_steps["preprocess"].get_feature_names_out())
    model = pipeline.named_steps["model"]
    model = getattr(model, "model_", model)
    if hasattr(model, "coef_"):
        values = np.abs(np.asarray(model.coef_)).mean(axis=0)
    else:
        values = np.asarray(model.feature_importances_, dtype=float)
        if values.sum() > 0:
            values = values / values.sum()
    return dict(zip(names, (float(v) for v in values), strict=False))
