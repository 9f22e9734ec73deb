"""Small synthetic data sets for the trainer's tests: numbers, a text category with gaps, a text target."""

from __future__ import annotations

import numpy as np
import pandas as pd


def mixed_frame(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, rows)
    x2 = rng.uniform(0, 10, rows)
    color = rng.choice(["red", "green", "blue"], rows).astype(object)
    color[rng.random(rows) < 0.03] = np.nan
    score = x1 + (color == "red") * 1.5 - 0.1 * x2 + rng.normal(0, 0.5, rows)
    return pd.DataFrame({"x1": x1, "x 2": x2, "color": color, "label": np.where(score > 0, "yes", "no")})
