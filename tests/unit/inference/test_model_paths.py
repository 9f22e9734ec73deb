"""The fast numpy path answers exactly like each family's own predict_proba, and unknown models fall back."""

from __future__ import annotations

import numpy as np
import pytest

from inference.model_holder import choose_path, predict_batch
from infra.models import LoadedModel
from tests.unit.inference.models import breast_cancer, memory_model, records


def loaded(pipeline, features) -> LoadedModel:
    return LoadedModel("m", "1", "r", pipeline, features, {c: "double" for c in features}, list(pipeline.classes_))


@pytest.mark.parametrize("family", ["logistic_regression", "random_forest", "xgboost", "lightgbm"])
def test_trainer_pipelines_take_the_compiled_path_with_identical_answers(family):
    from trainer.pipelines import build

    x, y = breast_cancer()
    pipeline = build(family, list(x.columns), [], [0, 1], seed=0).fit(x, y)
    model = loaded(pipeline, list(x.columns))
    assert choose_path(model, records(5)) == "compiled"
    got = np.array([list(p.probabilities.values()) for p in predict_batch(model, records(100))])
    np.testing.assert_allclose(got, pipeline.predict_proba(x.head(100)), rtol=1e-6, atol=1e-9)


def test_a_model_the_fast_path_does_not_know_is_called_with_a_frame():
    class Custom:
        classes_ = np.array([0, 1])

        def predict_proba(self, frame):
            assert list(frame.columns) == ["a", "b"]  # a DataFrame, columns named
            p = (frame["a"] > frame["b"]).to_numpy(dtype=float)
            return np.column_stack([1 - p, p])

    model = LoadedModel("m", "1", "r", Custom(), ["a", "b"], {"a": "double", "b": "double"}, [0, 1])
    assert choose_path(model, [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 0.5}]) == "frame"
    assert [p.predicted_class for p in predict_batch(model, [{"a": 2.0, "b": 1.0}, {"a": 0.0, "b": 1.0}])] == [1, 0]


def test_a_matrix_path_that_disagrees_is_not_used():
    class ReadsByName:  # answers by column name; a matrix would lose the names
        classes_ = np.array(["no", "yes"])

        def predict_proba(self, x):
            col = x["b"].to_numpy() if hasattr(x, "columns") else x[:, 0]
            p = 1 / (1 + np.exp(-col))
            return np.column_stack([1 - p, p])

    model = LoadedModel("m", "1", "r", ReadsByName(), ["a", "b"], {"a": "double", "b": "double"}, ["no", "yes"])
    assert choose_path(model, [{"a": 0.1, "b": 0.9}, {"a": 1.0, "b": -2.0}]) == "frame"
    assert predict_batch(model, [{"a": -5.0, "b": 5.0}])[0].predicted_class == "yes"


def test_predictions_name_classes_as_plain_values():
    model = memory_model()
    choose_path(model, records(3))
    (p,) = predict_batch(model, records(1))
    assert type(p.predicted_class) is int and set(p.probabilities) == {"0", "1"}
    assert abs(sum(p.probabilities.values()) - 1) < 1e-9


@pytest.mark.parametrize("family", ["logistic_regression", "random_forest", "xgboost", "lightgbm"])
def test_a_calibrated_champion_is_served_by_the_fast_path_exactly(family):
    """The trainer serves calibrated pipelines (temperature scaling): they must not fall back to sklearn's slow
    per-call validation (a 20x slower single-row prediction for a forest)."""
    import warnings

    from sklearn.datasets import load_breast_cancer

    from inference.fast_path import compile_model
    from trainer import calibration, pipelines

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    columns = list(x.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        served, _ = calibration.calibrate(pipelines.build(family, columns, [], [0, 1], 42), x, y, seed=42)
        expected = served.predict_proba(x.iloc[:40])
    fast = compile_model(served, columns)
    assert fast is not None
    assert np.abs(fast(x.to_numpy(float)[:40]) - expected).max() < 1e-6
