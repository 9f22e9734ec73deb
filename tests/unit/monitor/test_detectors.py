"""Detectors on seeded streams: pinned detection indices, and control streams that raise nothing."""

from __future__ import annotations

import numpy as np
import pytest

from consumers.monitor.calibration import Design, reference_error_bound, threshold
from consumers.monitor.detectors import CusumBank, ErrorCusum, cusum_scan
from consumers.monitor.encoding import RankIndex, encode_matrix

from .streams import profile, stream


def feed(bank, prof, frame, batch=100):
    index = RankIndex(prof)
    numeric = [r.name for r in prof.numeric]
    found = []
    for start in range(0, len(frame), batch):
        part = frame.iloc[start:start + batch]
        enc = encode_matrix(prof, part[numeric].to_numpy(float), [part["colour"].tolist()], index)
        found += bank.update(enc)
    return found


def test_closed_form_scan_matches_the_recursion():
    rng = np.random.default_rng(1)
    llr = rng.normal(-0.1, 1, size=(300, 3))
    s0 = np.array([0.0, 2.0, 5.0])
    expected, s = [], s0.copy()
    for row in llr:
        s = np.maximum(0, s + row)
        expected.append(s.copy())
    assert np.allclose(cusum_scan(s0, llr), np.array(expected))


def test_threshold_splits_the_rate_over_tests():
    assert threshold(0.1, 1) == pytest.approx(np.log(100_000))
    assert threshold(0.1, 120) == pytest.approx(np.log(12_000_000))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_control_stream_raises_nothing(seed):
    prof = profile()
    assert feed(CusumBank(prof), prof, stream(seed, 20_000)) == []


def test_half_sigma_shift_is_found_at_a_pinned_row_in_that_feature_only():
    prof = profile()
    frame = stream(7, 3000)
    frame.loc[1000:, "x3"] += 0.5
    found = feed(CusumBank(prof), prof, frame)
    assert [(d.row, d.column, d.test) for d in found[:1]] == [(1134, "x3", "mean_up")]
    assert {d.column for d in found} == {"x3"}


def test_skewed_feature_shift_and_scale_change_are_found():
    prof = profile()
    frame = stream(8, 3000)
    std = frame["x1"].std()
    frame.loc[1000:, "x1"] += 0.5 * std
    frame.loc[1500:, "x4"] *= 1.5
    found = feed(CusumBank(prof), prof, frame)
    first = {}
    for d in found:
        first.setdefault(d.column, (d.row, d.test))
    assert first == {"x1": (1044, "mean_up"), "x4": (1559, "scale_up")}


def test_category_mix_change_is_found():
    prof = profile()
    frame = stream(9, 4000)
    rng = np.random.default_rng(3)
    after = frame.index >= 2000
    frame.loc[after, "colour"] = rng.choice(["red", "green", "blue"], size=after.sum(), p=[0.35, 0.3, 0.35])
    found = feed(CusumBank(prof), prof, frame)
    assert [(d.row, d.column, d.test) for d in found[:1]] == [(2213, "colour", "share_up:blue")]


def test_rank_index_matches_a_per_column_search():
    from scipy.special import ndtri

    prof = profile()
    x = stream(4, 500)[[r.name for r in prof.numeric]].to_numpy(float) * 1.3
    x[3, 2] = np.nan
    z = RankIndex(prof).encode(x)[0]
    for j, ref in enumerate(prof.numeric):
        left = np.searchsorted(ref.sorted_values, x[:, j], "left")
        right = np.searchsorted(ref.sorted_values, x[:, j], "right")
        want = np.where(np.isnan(x[:, j]), np.nan, ndtri((left + right + 1) / (2 * (ref.n + 1))))
        assert np.allclose(z[:, j], want, equal_nan=True)


def test_error_detector_is_one_sided_and_fast():
    p0 = reference_error_bound(0.03, 500, Design())
    rng = np.random.default_rng(5)
    control = ErrorCusum(p0)
    assert control.update(rng.random(40_000) < 0.03) == []
    better = ErrorCusum(p0)
    assert better.update(rng.random(40_000) < 0.001) == []  # a model that got better is not an incident
    worse = ErrorCusum(p0)
    errors = np.concatenate([rng.random(1000) < 0.03, rng.random(1000) < 0.3])
    found = worse.update(errors)
    assert found[0].row == 1060 and found[0].row - 1000 <= 100


def test_feature_dicts_with_gaps_and_strings_become_nan():
    from consumers.monitor.encoding import numeric_matrix

    records = [{"a": 1, "b": 2.5}, {"a": None, "b": "3"}, {"b": "x"}]
    out = numeric_matrix(records, ["a", "b"])
    assert np.array_equal(out, np.array([[1, 2.5], [np.nan, 3.0], [np.nan, np.nan]]), equal_nan=True)
    assert numeric_matrix(records[:1], ["b"]).tolist() == [[2.5]]
