"""River's drift detectors as the monitor's per-feature detectors, chosen by DRIFTLINE_MONITOR_DETECTOR.

One River detector (`river.drift.ADWIN`, `KSWIN` or `PageHinkley`, River's defaults) per numeric column, fed the
column's reference normal score (so one parameter set means the same on every column), and one per category of
each categorical column, fed its standardised indicator (1[category] - p0) / sqrt(p0 (1 - p0)). Driven through
River's own API: `update(x)`, then `drift_detected`. Unlike the CUSUM bank these are not calibrated to a family-wise
false-alarm rate; `bench/bench_detection.py` prints what each costs and how often it cries wolf.

State survives a restart like the CUSUM state: each detector's attributes are saved as JSON (River's ADWIN keeps its
window in a Rust object whose own `__getstate__` / `__setstate__` carry it as bytes). Nothing is unpickled: a saved
state only sets attributes on detectors built here, so the database cannot make the monitor run code. A state saved
by another River version, or for another detector, is not loaded: the detectors then start fresh.
"""

from __future__ import annotations

import base64
import math
import random
from collections import deque

import numpy as np

from consumers.monitor.detectors import Detection
from consumers.monitor.encoding import Encoded
from consumers.monitor.reference import Profile

RIVER_DETECTORS = {"adwin": "ADWIN", "kswin": "KSWIN", "page_hinkley": "PageHinkley"}
SEED = 42  # KSWIN samples its reference window at random: seeded, so a stream gives the same detections


def make_detector(kind: str):
    """A River drift detector with River's default parameters (KSWIN seeded)."""
    from river import drift

    cls = getattr(drift, RIVER_DETECTORS[kind])
    return cls(seed=SEED) if kind == "kswin" else cls()


class RiverBank:
    """Per-feature River detectors with the CUSUM bank's interface: update(Encoded) -> detections."""

    threshold = 1.0  # a River detector says yes or no; a detection is reported as value 1.0 of threshold 1.0
    statistic_name = "river_drift"

    def __init__(self, profile: Profile, kind: str):
        if kind not in RIVER_DETECTORS:
            raise ValueError(f"unknown River detector {kind!r}; choose one of {', '.join(RIVER_DETECTORS)}")
        self.kind, self.name = kind, kind
        self.columns: list[str] = [r.name for r in profile.numeric]
        self._slots: list[tuple[int, int, float, float]] = []  # (categorical column, code, p0, sd) per indicator
        for j, ref in enumerate(profile.categorical):
            for k, p0 in enumerate(ref.shares):
                p = min(max(float(p0), 0.001), 0.999)
                self._slots.append((j, k, p, math.sqrt(p * (1 - p))))
                self.columns.append(ref.name)
        self.tests = ["change"] * len(profile.numeric) + [f"share:{profile.categorical[j].categories[k]}"
                                                          for j, k, _, _ in self._slots]
        self.detectors = [make_detector(kind) for _ in self.columns]
        self.seen = 0

    def describe(self, test: str) -> str:
        return f"River {RIVER_DETECTORS[self.kind]} saw a change in {test}"

    def _inputs(self, enc: Encoded) -> np.ndarray:
        """(n, detectors) values to feed, NaN where a numeric value is missing."""
        parts = [enc.z]
        if self._slots:
            cols = np.array([s[0] for s in self._slots])
            codes = np.array([s[1] for s in self._slots])
            p0 = np.array([s[2] for s in self._slots])
            sd = np.array([s[3] for s in self._slots])
            parts.append(((enc.codes[:, cols] == codes[None, :]) - p0[None, :]) / sd[None, :])
        return np.column_stack(parts) if parts else np.zeros((enc.rows, 0))

    def update(self, enc: Encoded) -> list[Detection]:
        """Feed a batch row by row (River's API is one value at a time); one detection per column and row."""
        values, out = self._inputs(enc), []
        for i, row in enumerate(values.tolist()):
            fired: set[str] = set()
            for det, x, column, test in zip(self.detectors, row, self.columns, self.tests, strict=True):
                if x != x:  # NaN: a missing value tells the detector nothing
                    continue
                det.update(x)
                if det.drift_detected and column not in fired:
                    fired.add(column)
                    out.append(Detection(self.seen + i, column, test, 1.0, self.threshold))
        self.seen += enc.rows
        return out

    def statistic(self) -> dict[str, float]:
        """River detectors expose no common level between alarms: every column reads 0 (1.0 is their alarm)."""
        return dict.fromkeys(self.columns, 0.0)

    def state_bytes(self) -> int:
        return sum(len(str(s)) for s in self.to_state()["detectors"])

    def to_state(self) -> dict:
        import river

        return {"river": river.__version__, "kind": self.kind,
                "detectors": [_attributes(det) for det in self.detectors]}

    def load_state(self, state: dict) -> bool:
        """Resume saved detectors; False (they start fresh) for another River version, detector or column set."""
        import river

        if (state.get("river"), state.get("kind")) != (river.__version__, self.kind) \
                or len(state.get("detectors", ())) != len(self.detectors):
            return False
        fresh = [make_detector(self.kind) for _ in self.columns]
        for det, saved in zip(fresh, state["detectors"], strict=True):
            _restore(det, saved)
        self.detectors = fresh
        return True


def _attributes(det) -> dict:
    """A detector's attributes as JSON values (callables, rebuilt by its constructor, are left out)."""
    return {name: _encode(value) for name, value in vars(det).items() if not callable(value)}


def _encode(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, deque):
        return {"deque": [_encode(v) for v in value], "maxlen": value.maxlen}
    if isinstance(value, random.Random):
        version, internal, gauss = value.getstate()
        return {"random": [version, list(internal), gauss]}
    state = getattr(type(value), "__getstate__", None)
    if state is not None and type(value).__module__.startswith("river._river_rust"):
        return {"rust": base64.b64encode(value.__getstate__()).decode()}
    if type(value).__module__.startswith("river."):  # e.g. river.stats.Mean: plain attributes
        return {"river_object": {k: _encode(v) for k, v in vars(value).items() if not callable(v)}}
    raise TypeError(f"cannot save a {type(value).__name__} of a River detector")


def _restore(det, saved: dict) -> None:
    """Set saved attributes on a detector built here; nested objects are the ones its constructor made."""
    for name, value in saved.items():
        current = getattr(det, name, None)
        setattr(det, name, _decode(value, current))


def _decode(value, current):
    if not isinstance(value, dict):
        return value
    if "deque" in value:
        return deque(value["deque"], maxlen=value["maxlen"])
    if "random" in value:
        version, internal, gauss = value["random"]
        rng = random.Random()
        rng.setstate((version, tuple(internal), gauss))
        return rng
    if "rust" in value:
        current.__setstate__(base64.b64decode(value["rust"]))
        return current
    if "river_object" in value:
        for k, v in value["river_object"].items():
            setattr(current, k, _decode(v, getattr(current, k, None)))
        return current
    raise ValueError(f"unknown saved value {sorted(value)}")
