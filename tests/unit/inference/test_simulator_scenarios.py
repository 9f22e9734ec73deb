"""Simulated scenarios: labels from a fixed relation, a concept flip inside a segment, gradual drift, sensor failures;
each seeded and deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from producers.simulator import Drift, parse_concept, parse_stuck, simulate_rows
from producers.teacher import Teacher


def frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x, z = rng.normal(5, 1, n), rng.normal(0, 1, n)
    return pd.DataFrame({"x": x, "z": z, "n": rng.integers(1, 9, n), "city": rng.choice(list("ab"), n),
                         "target": (x + 0.3 * rng.normal(size=n) > 5).astype(int)})


def test_the_teacher_is_deterministic_and_follows_the_data():
    a, b = Teacher(frame(), "target", seed=0), Teacher(frame(), "target", seed=0)
    assert a.temperature == b.temperature and np.array_equal(a.w, b.w)
    assert a.ranked[0] == "x"  # the feature the labels depend on
    p = a.p_true(frame())
    assert ((p > 0.5) == frame()["target"].astype(bool)).mean() > 0.85
    record = frame().drop(columns="target").iloc[3].to_dict()
    assert a.p_record(record) == pytest.approx(p[3])


def test_the_teacher_refuses_what_it_cannot_learn():
    with pytest.raises(ValueError, match="two-class target"):
        Teacher(frame().assign(target=[0, 1, 2, 3] * 100), "target")
    with pytest.raises(ValueError, match="target column 'y'"):
        Teacher(frame(), "y")


def test_ground_truth_labels_keep_the_relation_under_a_covariate_shift():
    data, teacher = frame(), Teacher(frame(), "target")
    rows = list(simulate_rows(data, "target", 3000, seed=5, drift=Drift(1000, shift={"x": 1.5}), teacher=teacher))
    again = list(simulate_rows(data, "target", 3000, seed=5, drift=Drift(1000, shift={"x": 1.5}), teacher=teacher))
    assert rows == again
    after = [r for r in rows if r.drifted]
    # The shift moves x up: the teacher says most of those rows are positive now, and the labels follow it.
    assert np.mean([r.label for r in after]) > np.mean([r.label for r in rows if not r.drifted]) + 0.2
    agree = np.mean([(teacher.p_record(r.features) > 0.5) == r.label for r in after])
    assert agree > 0.85


def test_a_concept_change_flips_labels_only_inside_the_segment():
    data = frame()
    cut = data["x"].quantile(0.7)
    plain = list(simulate_rows(data, "target", 600, seed=2, drift=Drift()))
    flipped = list(simulate_rows(data, "target", 600, seed=2, drift=Drift(200, concept=("x", 0.3))))
    for p, f in zip(plain, flipped, strict=True):
        assert f.features == p.features
        inside = f.index >= 200 and f.features["x"] > cut
        assert f.label == (1 - p.label if inside else p.label)
    assert any(f.label != p.label for p, f in zip(plain, flipped, strict=True))


def test_gradual_drift_ramps_in():
    data = frame()
    plain = list(simulate_rows(data, "target", 400, seed=1, drift=Drift()))
    ramp = list(simulate_rows(data, "target", 400, seed=1, drift=Drift(100, shift={"x": 2.0}, gradual=200)))
    sd = data["x"].std()
    moved = [(r.features["x"] - p.features["x"]) / sd for p, r in zip(plain, ramp, strict=True)]
    assert moved[99] == 0 and moved[100] == pytest.approx(2.0 / 200)
    assert moved[199] == pytest.approx(1.0) and moved[299] == pytest.approx(2.0) and moved[399] == pytest.approx(2.0)


def test_sensor_failures_break_the_input_not_the_outcome():
    data, teacher = frame(), Teacher(frame(), "target")
    plain = list(simulate_rows(data, "target", 300, seed=3, drift=Drift(), teacher=teacher))
    broken = list(simulate_rows(data, "target", 300, seed=3, teacher=teacher,
                                drift=Drift(100, stuck={"x": "0", "n": "4", "city": "zz"}, null=("z",))))
    for p, b in zip(plain, broken, strict=True):
        assert b.label == p.label  # the outcome follows the true values
        if b.index < 100:
            assert b.features == p.features
        else:
            assert b.features["x"] == 0.0 and b.features["n"] == 4 and isinstance(b.features["n"], int)
            assert b.features["city"] == "zz" and b.features["z"] is None


def test_scenario_options_are_refused_with_the_option_named():
    assert parse_concept("x=0.3") == ("x", 0.3) and parse_stuck(["x=1.5", "city = a"]) == {"x": "1.5", "city": "a"}
    with pytest.raises(ValueError, match="concept 'x=1.5': TOP_SHARE"):
        parse_concept("x=1.5")
    with pytest.raises(ValueError, match="stuck 'x': expected FEATURE=VALUE"):
        parse_stuck(["x"])
    with pytest.raises(ValueError, match="--null: unknown feature 'nope'"):
        list(simulate_rows(frame(), "target", 5, 0, Drift(0, null=("nope",))))
    with pytest.raises(ValueError, match="--stuck x=high: 'x' is numeric"):
        list(simulate_rows(frame(), "target", 5, 0, Drift(0, stuck={"x": "high"})))
    with pytest.raises(ValueError, match="--concept: feature 'city' is not numeric"):
        list(simulate_rows(frame(), "target", 5, 0, Drift(0, concept=("city", 0.2))))
