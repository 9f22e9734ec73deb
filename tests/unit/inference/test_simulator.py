"""Simulated traffic: seeded, drift from the chosen row exactly as asked, labels of the sampled rows."""

from __future__ import annotations

import pandas as pd
import pytest

from producers.simulator import Drift, parse_assignments, parse_mix, simulate_rows


def frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "n": [1, 2, 3, 4, 5], "city": list("aabbc"),
                         "target": [0, 0, 1, 1, 1]})


def test_same_seed_same_traffic():
    a = [r.features for r in simulate_rows(frame(), "target", 50, seed=3, drift=Drift())]
    b = [r.features for r in simulate_rows(frame(), "target", 50, seed=3, drift=Drift())]
    c = [r.features for r in simulate_rows(frame(), "target", 50, seed=4, drift=Drift())]
    assert a == b and a != c
    assert set(a[0]) == {"x", "n", "city"}  # the target is not a feature


def test_drift_starts_at_the_chosen_row():
    data = frame()
    std = data["x"].std()
    plain = list(simulate_rows(data, "target", 40, seed=1, drift=Drift()))
    drifted = list(simulate_rows(data, "target", 40, seed=1, drift=Drift(
        drift_at=10, shift={"x": 2.0}, scale={"n": 3.0}, mix={"city": {"z": 1.0}})))
    for p, d in zip(plain, drifted, strict=True):
        assert d.label == p.label and d.drifted == (d.index >= 10)
        if d.index < 10:
            assert d.features == p.features
        else:
            assert d.features["x"] == pytest.approx(p.features["x"] + 2 * std)
            assert d.features["n"] == round(3 + (p.features["n"] - 3) * 3) and isinstance(d.features["n"], int)
            assert d.features["city"] == "z"


def test_bad_options_are_refused_with_the_reason():
    assert parse_assignments(["x=1.5", "y=-2"], "shift") == {"x": 1.5, "y": -2.0}
    assert parse_mix(["city=a:0.2,b:0.8"]) == {"city": {"a": 0.2, "b": 0.8}}
    with pytest.raises(ValueError, match="expected FEATURE=NUMBER"):
        parse_assignments(["x"], "shift")
    with pytest.raises(ValueError, match="expected FEATURE=VALUE:WEIGHT"):
        parse_mix(["city=a"])
    with pytest.raises(ValueError, match="unknown feature 'nope'"):
        list(simulate_rows(frame(), "target", 5, 0, Drift(drift_at=0, shift={"nope": 1.0})))
    with pytest.raises(ValueError, match="not numeric"):
        list(simulate_rows(frame(), "target", 5, 0, Drift(drift_at=0, shift={"city": 1.0})))


def test_features_are_named_as_the_data_names_them():
    data = frame().rename(columns={"x": "mean radius"})
    assert parse_assignments(["worst concave points=1.0", " mean radius =2"], "shift") == {
        "worst concave points": 1.0, "mean radius": 2.0}
    rows = list(simulate_rows(data, "target", 5, 0, Drift(drift_at=0, shift={"mean radius": 1.0})))
    assert all("mean radius" in r.features for r in rows)
    with pytest.raises(ValueError, match="unknown feature 'mean_radius'; features are: 'mean radius', 'n'"):
        list(simulate_rows(data, "target", 5, 0, Drift(drift_at=0, shift={"mean_radius": 1.0})))
