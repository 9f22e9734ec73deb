"""Calibration in the trainer: every family's held-out calibration error drops, predictions do not move, and the
candidate's metrics carry the error before and after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.unit.trainer.frames import mixed_frame
from trainer import calibration, metrics, pipelines
from trainer.datasets import clean_frame
from trainer.fitting import FitJob, fit_candidate


def overfit_world(seed: int = 1, train: int = 300, test: int = 5000, features: int = 80):
    """Few rows, many features, labels from a logistic relation on four of them: every family overfits and is
    overconfident (or, the forest, underconfident) on new rows."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(train + test, features))
    logit = 1.5 * x[:, 0] + x[:, 1] - x[:, 2] + 0.5 * x[:, 3]
    columns = [f"x{i}" for i in range(features)]
    frame = pd.DataFrame(x, columns=columns).assign(y=(rng.random(train + test) < 1 / (1 + np.exp(-logit))).astype(int))
    return frame.iloc[:train], frame.iloc[train:], columns


@pytest.mark.parametrize("family", list(pipelines.FAMILIES))
def test_calibration_lowers_the_held_out_calibration_error_of_every_family(family):
    train, test, columns = overfit_world()
    served, raw = calibration.calibrate(pipelines.build(family, columns, [], [0, 1], 1), train[columns], train["y"],
                                        seed=1)
    after, before = served.predict_proba(test[columns]), raw.predict_proba(test[columns])
    got = calibration.calibration_metrics(test["y"], after, before, [0, 1])
    assert got["ece"] < got["ece_uncalibrated"] / 2, got
    assert got["brier"] < got["brier_uncalibrated"], got
    # Temperature scaling keeps each row's most probable class: accuracy, F1 and AUC are the uncalibrated model's.
    assert (after.argmax(axis=1) == before.argmax(axis=1)).all()
    assert metrics.score(test["y"], after, [0, 1]) == pytest.approx(metrics.score(test["y"], before, [0, 1]))


def test_the_candidate_records_calibration_error_and_serves_text_labels():
    frame = clean_frame(mixed_frame(400))
    features = ["x1", "x 2", "color"]
    train, holdout = frame.iloc[:300].reset_index(drop=True), frame.iloc[300:].reset_index(drop=True)
    fitted = fit_candidate(FitJob("xgboost", train, holdout, "label", ["x1", "x 2"], ["color"], ["no", "yes"], 3))
    assert {"ece", "brier", "ece_uncalibrated", "brier_uncalibrated", "f1"} <= set(fitted.metrics)
    assert all(0 <= fitted.metrics[k] <= 1 for k in ("ece", "brier", "ece_uncalibrated", "brier_uncalibrated"))
    assert type(fitted.pipeline.named_steps["model"]).__name__ == "CalibratedClassifierCV"
    assert set(fitted.pipeline.predict(holdout[features])) <= {"no", "yes"}
    assert "x1" in fitted.importance and fitted.params["calibration"].startswith(calibration.METHOD)
    assert calibration.uncalibrated(fitted.pipeline).named_steps["model"].__class__.__name__ == "EncodedLabels"


def test_ece_and_brier_on_hand_worked_rows():
    proba = np.array([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])
    y = np.array(["b", "a", "a", "b"])
    # Confidences 0.9, 0.8, 0.7, 0.6 fall in bins 9, 8, 7, 6; correct: yes, no, yes, yes.
    expected = (abs(1 - 0.9) + abs(0 - 0.8) + abs(1 - 0.7) + abs(1 - 0.6)) / 4
    assert calibration.expected_calibration_error(y, proba, ["a", "b"]) == pytest.approx(expected)
    assert calibration.brier(y, proba, ["a", "b"]) == pytest.approx((0.01 + 0.64 + 0.09 + 0.16) / 4)
    three = np.array([[0.5, 0.3, 0.2]])
    assert calibration.brier(np.array([1]), three, [0, 1, 2]) == pytest.approx(0.25 + 0.49 + 0.04)


def test_a_class_too_small_to_fold_trains_uncalibrated():
    frame = clean_frame(mixed_frame(60))
    frame.loc[:, "label"] = "no"
    frame.loc[0, "label"] = "yes"  # one row of a class: no fold can hold it out
    pipe = pipelines.build("logistic_regression", ["x1", "x 2"], ["color"], ["no", "yes"], 1)
    served, raw = calibration.calibrate(pipe, frame[["x1", "x 2", "color"]], frame["label"], seed=1)
    assert served is raw and list(served.classes_) == ["no", "yes"]
