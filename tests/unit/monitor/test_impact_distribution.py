"""A drifted feature's distribution, reference against window, as the approval page draws it (seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from consumers.monitor.impact import BINS, build, feature_impact


def model_and_window(seed: int = 3):
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({"worst radius": rng.normal(16.0, 4.0, 2000), "colour": rng.choice(["red", "blue"], 2000),
                              "texture": rng.normal(19.0, 4.0, 2000)})

    def predict(rows: pd.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-(pd.to_numeric(rows["worst radius"]) - 16.0) / 2.0))

    window = reference.sample(500, random_state=seed).reset_index(drop=True)
    window["worst radius"] = window["worst radius"] + 8.0  # two reference standard deviations up
    window["colour"] = ["red"] * 450 + ["green"] * 50
    return build(predict, reference, ["worst radius", "texture"], seed=seed), window


def test_a_numeric_feature_moved_up_shows_on_shared_bins():
    model, window = model_and_window()
    found = feature_impact(model, "worst radius", window)
    d = found.distribution
    assert len(d.edges) == BINS + 1 and len(d.reference) == len(d.window) == BINS
    assert abs(sum(d.reference) - 1) < 1e-3 and abs(sum(d.window) - 1) < 1e-3
    centres = np.convolve(d.edges, [0.5, 0.5], "valid")
    assert np.dot(centres, d.window) - np.dot(centres, d.reference) > 6.0  # the mass moved ~8 up
    assert 1.8 < found.shift < 2.2 and found.effect > 0.2


def test_a_categorical_feature_shows_its_categories_new_ones_included():
    model, window = model_and_window()
    d = feature_impact(model, "colour", window).distribution
    assert set(d.categories) == {"red", "blue", "green"} and d.edges == []
    shares = dict(zip(d.categories, d.window, strict=True))
    assert shares["red"] == 0.9 and shares["green"] == 0.1 and dict(zip(d.categories, d.reference, strict=True))["green"] == 0.0
