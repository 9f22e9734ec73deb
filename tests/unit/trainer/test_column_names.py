"""The data's own column names, whatever characters they hold, fit and predict in every family unchanged.

XGBoost refuses feature names holding `[`, `]` or `<`; LightGBM turns spaces into underscores and refuses JSON's
special characters (`:`, `"`, ...). Both only look at names they are given: the preprocessing step hands every
estimator a plain matrix, so no family sees a name and nothing is renamed anywhere (checked here, so a change
that starts passing DataFrames to the estimators fails this test instead of a user's training).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainer import pipelines
from trainer.datasets import clean_frame

NAMES = ["age [years]", "x<5", "mean radius", "colour: name"]


def frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    data = pd.DataFrame({NAMES[0]: rng.normal(50, 10, rows), NAMES[1]: rng.normal(0, 1, rows),
                         NAMES[2]: rng.normal(14, 3, rows), NAMES[3]: rng.choice(["red", "blue"], rows)})
    data["label"] = ((data[NAMES[1]] + (data[NAMES[3]] == "red")) > 0.5).astype(int)
    return data


def test_a_frame_keeps_its_own_column_names():
    assert list(clean_frame(frame()).columns) == [*NAMES, "label"]


@pytest.mark.parametrize("family", list(pipelines.FAMILIES))
def test_every_family_fits_and_predicts_on_names_with_spaces_brackets_and_signs(family):
    data = clean_frame(frame())
    pipe = pipelines.build(family, NAMES[:3], NAMES[3:], [0, 1], seed=1).fit(data[NAMES], data["label"])
    proba = pipe.predict_proba(data[NAMES].head(20))
    assert proba.shape == (20, 2) and np.allclose(proba.sum(axis=1), 1)
    assert (pipe.predict(data[NAMES]) == data["label"]).mean() > 0.8
    assert list(pipe.feature_names_in_) == NAMES
    assert isinstance(pipe.named_steps["preprocess"].transform(data[NAMES].head(2)), np.ndarray)  # no names inside
