"""Each family fits a pipeline that imputes, encodes and predicts, from DataFrames with gaps and text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.unit.trainer.frames import mixed_frame
from trainer import metrics, pipelines
from trainer.datasets import clean_frame, content_hash


@pytest.mark.parametrize("family", list(pipelines.FAMILIES))
def test_family_handles_missing_values_text_categories_and_text_labels(family):
    frame = clean_frame(mixed_frame(160))
    frame.loc[::17, "x1"] = np.nan
    features = ["x1", "x 2", "color"]
    pipe = pipelines.build(family, ["x1", "x 2"], ["color"], ["no", "yes"], seed=1)
    pipe.fit(frame[features], frame["label"])
    assert list(pipe.classes_) == ["no", "yes"]
    # A request from JSON: None for a missing number or category, and a category never seen.
    request = pd.DataFrame({"x1": [None, 0.3], "x 2": [1.0, None], "color": [None, "purple"]})
    proba = pipe.predict_proba(request)
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(pipe.predict(request)) <= {"no", "yes"}
    scores = metrics.score(frame["label"], metrics.proba_for(pipe, frame[features], ["no", "yes"]), ["no", "yes"])
    assert scores["f1"] > 0.6 and scores["roc_auc"] > 0.7
    importance = pipelines.feature_importance(pipe)
    assert "x1" in importance and any(name.startswith("color_") for name in importance)
    model = pipe.named_steps["model"]
    assert getattr(model, "n_jobs", None) in (1, None) or getattr(getattr(model, "model", None), "n_jobs", 1) == 1


def test_metrics_reorder_a_champions_classes():
    class Reversed:
        classes_ = [1, 0]

        def predict_proba(self, frame):
            return np.array([[0.9, 0.1], [0.2, 0.8]])

    proba = metrics.proba_for(Reversed(), None, [0, 1])
    assert proba.tolist() == [[0.1, 0.9], [0.8, 0.2]]
    assert metrics.score(np.array([1, 0]), proba, [0, 1])["accuracy"] == 1.0


def test_content_hash_follows_content_not_identity():
    a = clean_frame(mixed_frame(50))
    assert content_hash(a) == content_hash(a.copy())
    b = a.copy()
    b.loc[0, "x1"] += 1e-9
    assert content_hash(a) != content_hash(b)


def test_small_data_fits_in_process_and_large_data_in_parallel_unless_told():
    from trainer.fitting import PARALLEL_MIN_ROWS, worker_count

    assert worker_count(0, 4, rows=569) == 1
    assert worker_count(2, 4, rows=569) == 2
    assert worker_count(8, 3, rows=569) == 3  # never more processes than candidates
    assert 1 <= worker_count(0, 4, rows=PARALLEL_MIN_ROWS) <= 4
