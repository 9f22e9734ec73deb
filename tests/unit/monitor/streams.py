"""Seeded streams and a synthetic reference for the monitor's unit tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from consumers.monitor.reference import build_profile


def reference_frame(seed: int = 0, rows: int = 2000, numeric: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(numeric)})
    frame["x1"] = np.exp(frame["x1"])  # a skewed column: ranks, not raw values, must carry the test
    frame["colour"] = rng.choice(["red", "green", "blue"], size=rows, p=[0.5, 0.3, 0.2])
    return frame


def profile(seed: int = 0):
    frame = reference_frame(seed)
    types = {c: ("string" if c == "colour" else "double") for c in frame.columns}
    return build_profile(frame, list(frame.columns), types, model="m", version="1")


def stream(seed: int, rows: int) -> pd.DataFrame:
    return reference_frame(seed + 1000, rows)
