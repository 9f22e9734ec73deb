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


def test_names_the_first_trainer_wrote_are_read_as_the_datas_own():
    from trainer.datasets import Dataset, legacy_names, with_rows

    columns = [*NAMES, "label"]
    assert legacy_names(["mean_radius", "age_[years]", "x<5", "nope"], columns) == {
        "mean_radius": "mean radius", "age_[years]": "age [years]"}
    assert legacy_names(["a_b"], ["a b", "a  b"]) == {}  # ambiguous: left for the check to name
    data = clean_frame(frame(40))
    old = data.rename(columns=lambda c: "_".join(c.split()))  # production rows of a champion from before
    combined = with_rows(Dataset("d.csv", data, "label"), old.head(5))
    assert list(combined.columns) == columns and len(combined) == 45


def test_a_schema_file_written_under_the_old_names_still_validates_the_data():
    from infra.settings import Settings
    from trainer import contract as contracts
    from trainer.datasets import Dataset
    from trainer.run import _under_the_datas_names
    from trainer.validation import validate

    data = Dataset("d.csv", clean_frame(frame()), "label")
    old = Dataset("d.csv", data.frame.rename(columns=lambda c: "_".join(c.split())), "label")
    settings = Settings(data_dir="/nonexistent")
    legacy = contracts.infer(old, settings)
    assert "mean_radius" in legacy.columns and not validate(data.frame, legacy).ok
    renamed = _under_the_datas_names(legacy, data)
    assert list(renamed.columns) == NAMES and validate(data.frame, renamed).ok


def test_a_target_named_the_old_way_finds_its_column(tmp_path):
    from trainer.datasets import load_dataset

    csv = tmp_path / "d.csv"
    frame(30).rename(columns={"label": "has disease"}).to_csv(csv, index=False)
    assert load_dataset(str(csv), "has_disease").target == "has disease"  # e.g. a registry tag from before
    assert load_dataset(str(csv), "has disease").features == NAMES
