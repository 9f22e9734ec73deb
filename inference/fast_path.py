"""A numpy-only path through the usual fitted pipelines, used only when it answers exactly like predict_proba.

sklearn validates its input in every step of every call (and a ColumnTransformer wants a DataFrame): about 2 ms
per call here whatever the batch size, against tens of microseconds for the same arithmetic on a float matrix.
Boosters are called natively with one thread (8-24 ms with default threads on a single row, 0.05-0.5 ms so).
Anything this module does not recognise returns None and is served by the model's own predict_proba.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]


def _imputer(step) -> Transform | None:
    stats = np.asarray(getattr(step, "statistics_", []), dtype="float64")
    missing = step.missing_values
    if stats.size == 0 or np.isnan(stats).any() or getattr(step, "add_indicator", False):
        return None
    if not (isinstance(missing, float) and np.isnan(missing)):
        return None
    return lambda x: np.where(np.isnan(x), stats, x)


def _scaler(step) -> Transform:
    mean = step.mean_ if step.with_mean and step.mean_ is not None else 0.0
    scale = step.scale_ if step.with_std and step.scale_ is not None else 1.0
    return lambda x: (x - mean) / scale


def _transform(step, columns: list[str]) -> tuple[Transform, list[str]] | None:
    """(function, output columns) for a fitted transformer over `columns`, or None."""
    kind = type(step).__name__
    if step == "passthrough" or step is None:
        return (lambda x: x), columns
    if kind == "SimpleImputer":
        fn = _imputer(step)
        return (fn, columns) if fn else None
    if kind == "StandardScaler":
        return _scaler(step), columns
    if kind == "Pipeline":
        fns = []
        for _, sub in step.steps:
            got = _transform(sub, columns)
            if got is None:
                return None
            fns.append(got[0])
        return _chain(fns), columns
    if kind == "ColumnTransformer":
        return _column_transformer(step, columns)
    return None


def _column_transformer(ct, columns: list[str]) -> tuple[Transform, list[str]] | None:
    parts = []
    for _, trans, cols in ct.transformers_:
        if isinstance(cols, slice) or (hasattr(cols, "dtype") and cols.dtype == bool):
            return None
        cols = [columns[c] if isinstance(c, int | np.integer) else c for c in cols]
        if trans == "drop" or not cols:
            continue
        if any(c not in columns for c in cols):
            return None
        got = _transform(trans, cols)
        if got is None:
            return None
        parts.append(([columns.index(c) for c in cols], got[0]))
    if not parts:
        return None
    # Output columns have new names the later steps do not select by; [] makes any later selection fail safe.
    return (lambda x: np.hstack([fn(x[:, idx]) for idx, fn in parts])), []


def _chain(fns: list[Transform]) -> Transform:
    def run(x: np.ndarray) -> np.ndarray:
        for fn in fns:
            x = fn(x)
        return x

    return run


def _quiet(predict_proba) -> Transform:
    def run(x: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fitted on named columns; these are the same columns, in order
            return predict_proba(x)

    return run


def _two_columns(p1: np.ndarray) -> np.ndarray:
    return np.column_stack([1.0 - p1, p1])


def _calibrated(est) -> Transform | None:
    """CalibratedClassifierCV with temperature scaling and one classifier (what the trainer serves): the inner
    model's probabilities, sharpened by its temperature. sklearn's scaling reads the inner model's decision values
    when it has them (two classes: logits -d/2, d/2) and its log-probabilities otherwise."""
    if getattr(est, "method", None) != "temperature" or len(getattr(est, "calibrated_classifiers_", [])) != 1:
        return None
    fitted = est.calibrated_classifiers_[0]
    inner = _estimator(fitted.estimator)
    if inner is None or len(fitted.calibrators) != 1 or not hasattr(fitted.calibrators[0], "beta_"):
        return None
    beta = float(fitted.calibrators[0].beta_)
    binary_logits = hasattr(fitted.estimator, "decision_function") and len(est.classes_) == 2
    power, eps = (2.0 * beta, 0.0) if binary_logits else (beta, 1e-12)

    def scaled(x: np.ndarray) -> np.ndarray:
        z = (inner(x) + eps) ** power
        return z / z.sum(axis=1, keepdims=True)

    return scaled


def _estimator(est) -> Transform | None:
    kind = type(est).__name__
    if kind == "CalibratedClassifierCV":
        return _calibrated(est)
    if kind == "LogisticRegression":
        coef, intercept = np.asarray(est.coef_), np.asarray(est.intercept_)
        if coef.shape[0] == 1:
            return lambda x: _two_columns(1.0 / (1.0 + np.exp(-(x @ coef[0] + intercept[0]))))

        def softmax(x: np.ndarray) -> np.ndarray:
            z = x @ coef.T + intercept
            z = np.exp(z - z.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)

        return softmax
    if kind == "RandomForestClassifier" and getattr(est, "n_outputs_", 1) == 1:
        trees = [tree.tree_ for tree in est.estimators_]
        n_classes = int(est.n_classes_)

        def forest(x: np.ndarray) -> np.ndarray:  # sklearn's own sum, without joblib and input checks per tree
            x32 = np.ascontiguousarray(x, dtype=np.float32)
            total = np.zeros((x.shape[0], n_classes))
            for tree in trees:
                p = tree.predict(x32).reshape(x.shape[0], -1)[:, :n_classes]
                total += p / p.sum(axis=1, keepdims=True)
            return total / len(trees)

        return forest
    if kind == "LGBMClassifier":
        booster = est.booster_

        def lgbm(x: np.ndarray) -> np.ndarray:
            p = booster.predict(x, num_threads=1)
            return _two_columns(p) if p.ndim == 1 else p

        return lgbm
    if kind == "XGBClassifier":
        booster = est.get_booster()
        booster.set_param({"nthread": 1})

        def xgb(x: np.ndarray) -> np.ndarray:
            p = booster.inplace_predict(x)
            return _two_columns(p) if p.ndim == 1 else p

        return xgb
    return None


def compile_model(model, features: list[str]) -> Transform | None:
    """float matrix (columns in `features` order) -> class probabilities, or None when not recognised."""
    if type(model).__name__ == "Pipeline":
        *pre, (_, final) = model.steps
    else:
        pre, final = [], model
    fns = []
    columns = list(features)
    for _, step in pre:
        got = _transform(step, columns)
        if got is None:
            return None
        fn, columns = got
        fns.append(fn)
    head = _estimator(final)
    if head is None:
        if not pre or not hasattr(final, "predict_proba"):
            return None
        head = _quiet(final.predict_proba)  # e.g. a random forest: its own call, minus the DataFrame steps
    fns.append(head)
    return _chain(fns)
