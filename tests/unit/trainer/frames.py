"""Small synthetic data sets for the trainer's tests: numbers, text categories with gaps, text or 0/1 targets."""

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


def tumours(rows: int = 569, seed: int = 3) -> pd.DataFrame:
    """Breast-cancer-like measurements: hundreds of distinct values per column, a 0/1 target."""
    rng = np.random.default_rng(seed)
    radius = rng.normal(14, 3.5, rows).round(2)
    texture = rng.normal(19, 4, rows).round(2)
    target = (radius + rng.normal(0, 2, rows) < 14).astype(int)
    return pd.DataFrame({"mean radius": radius, "mean texture": texture, "site": rng.choice(["L", "R"], rows),
                         "target": target})
