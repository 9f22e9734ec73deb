"""The commands `driftline up` ends its banner with: pasted into a shell, they do what they say."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pandas as pd

from driftline.try_it import AIM, Example, commands, strongest_drift

EXAMPLE = Example("3", {"mean radius": 17.99, "it's": 1.0, "kind": "a b"}, {"worst radius": 2.0, "it's": -2.0})


def test_the_curl_sends_the_row_as_json_whatever_the_column_names():
    lines = commands(EXAMPLE, model="m", gateway="http://127.0.0.1:8000", page="http://127.0.0.1:8080",
                     data_dir_flag="", api_keys=False, one_time="pw-1")
    curl = shlex.split(lines[1])
    assert curl[:3] == ["curl", "-s", "http://127.0.0.1:8000/predict"]
    assert json.loads(curl[curl.index("-d") + 1]) == {"features": EXAMPLE.features}
    simulate = shlex.split(lines[3])
    assert simulate[:2] == ["driftline", "simulate"]
    assert [simulate[i + 1] for i, word in enumerate(simulate) if word == "--shift"] == ["worst radius=2", "it's=-2"]
    assert "`worst radius` (+2 SD) and `it's` (-2 SD)" in lines[2]
    assert "http://127.0.0.1:8080" in lines[4] and "pw-1" in lines[5] and "m v3" in lines[0]


def test_keys_and_data_dir_are_named_never_printed():
    lines = commands(EXAMPLE, model="m", gateway="http://g", page="http://p", data_dir_flag=" --data-dir /d",
                     api_keys=True, one_time=None)
    assert "X-API-Key: <one of DRIFTLINE_API_KEYS>" in lines[1]
    assert lines[3].endswith("--data-dir /d") and "users reset" in lines[5]


def test_the_drift_to_try_moves_the_predictions_past_the_policys_band_with_as_few_columns_as_it_can():
    """Thirty columns a model weighs alike (as a regularised model of many correlated columns does): no single one
    moves the predicted share by 20 points at 2 SD (x0, weighed most, by ~17), so columns are added, each pushing
    the same way; a column the model ignores is never one of them."""
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(rng.normal(size=(2000, 31)), columns=[f"x{i}" for i in range(31)])
    weights = np.array([1.2, -1.1, *[(-1) ** i for i in range(28)], 0.0])

    def predict_proba(frame: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-(frame.to_numpy() @ weights)))
        return np.column_stack([1 - p, p])

    shifts = strongest_drift(predict_proba, rows, list(rows.columns))
    assert 1 < len(shifts) <= 4 and abs(shifts["x0"]) == 2.0 and "x30" not in shifts
    assert shifts["x0"] * shifts["x1"] < 0  # opposite weights: shifted opposite ways, both moving the share alike
    shifted = rows.copy()
    for column, sigmas in shifts.items():
        shifted[column] += sigmas * rows[column].std()
    share = lambda f: float((predict_proba(f).argmax(axis=1) == 1).mean())  # noqa: E731
    assert abs(share(shifted) - share(rows)) >= AIM
