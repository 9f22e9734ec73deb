"""Streaming change detectors over a batch at a time: a vectorised bank of one-sided LLR CUSUMs.

The CUSUM recursion S_t = max(0, S_{t-1} + l_t) has the closed form S_t = C_t - min(-S_0, min_{s<=t} C_s)
with C the running sum of l, so a whole batch of events for every test is two numpy scans; the per-event
cost stays a few microseconds for 30 features. It is the default; River's ADWIN, KSWIN and Page-Hinkley can take
its place (consumers/monitor/river_bank.py, DRIFTLINE_MONITOR_DETECTOR), and bench/bench_detection.py runs each of
them through the monitor's own path: per feature they are slower, and miss or cry wolf where this bank does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from consumers.monitor.calibration import Design, threshold
from consumers.monitor.encoding import Encoded
from consumers.monitor.reference import Profile


@dataclass(frozen=True)
class Detection:
    """A test crossed its threshold at `row` (index within the stream the bank has seen)."""

    row: int
    column: str
    test: str
    value: float
    threshold: float


def cusum_scan(s0: np.ndarray, llr: np.ndarray) -> np.ndarray:
    """CUSUM statistics after each row of `llr` (n, m), starting from `s0` (m,)."""
    c = np.cumsum(llr, axis=0)
    return c - np.minimum(np.minimum.accumulate(c, axis=0), -s0)


def scan_with_resets(s0: np.ndarray, llr: np.ndarray, limit: float, groups: np.ndarray):
    """Run the CUSUMs, resetting every test of a group when one of them crosses; returns (state, [(row, tests)])."""
    hits, start, s = [], 0, s0
    while start < len(llr):
        stats = cusum_scan(s, llr[start:])
        over = stats > limit
        if not over.any():
            return stats[-1].copy(), hits
        r = int(np.argmax(over.any(axis=1)))
        crossed = np.flatnonzero(over[r])
        hits.append((start + r, crossed, stats[r, crossed].copy()))
        s = stats[r].copy()
        s[np.isin(groups, groups[crossed])] = 0.0
        start += r + 1
    return s, hits


class CusumBank:
    """Two-sided mean and scale CUSUMs per numeric column, share CUSUMs per category; one threshold for all."""

    name = "cusum"
    statistic_name = "cusum"

    def __init__(self, profile: Profile, false_alarms_per_10k: float = 0.1, design: Design = Design()):
        self.profile = profile
        d, f = design.mean_shift, design.scale_factor
        # LLR of N(0, 1) against N(+-d, 1) and N(0, f^2), N(0, 1/f^2), as a + b z + c z^2 per test.
        self._num = np.array([[-d * d / 2, d, 0.0], [-d * d / 2, -d, 0.0],
                              [-math.log(f), 0.0, 0.5 * (1 - 1 / f**2)], [math.log(f), 0.0, 0.5 * (1 - f**2)]])
        self._num_tests = ["mean_up", "mean_down", "scale_up", "scale_down"]
        hit, miss, tests, groups, columns, slots = [], [], [], [], [], []
        p = len(profile.numeric)
        for j, ref in enumerate(profile.numeric):
            tests += self._num_tests
            groups += [j] * 4
            columns += [ref.name] * 4
        for j, ref in enumerate(profile.categorical):
            for k, (cat, p0) in enumerate(zip(ref.categories, ref.shares, strict=True)):
                step = design.share_shift_sigmas * math.sqrt(p0 * (1 - p0))
                for side, p1 in (("share_up", min(p0 + step, 0.999)), ("share_down", max(p0 - step, 0.001))):
                    hit.append(math.log(p1 / p0))
                    miss.append(math.log((1 - p1) / (1 - p0)))
                    tests.append(f"{side}:{cat}")
                    groups.append(p + j)
                    columns.append(ref.name)
                    slots.append((j, k))
        self._hit, self._miss = np.array(hit), np.array(miss)
        self._slot_col = np.array([j for j, _ in slots], dtype=int)
        self._slot_cat = np.array([k for _, k in slots], dtype=int)
        self.tests, self.columns, self.groups = tests, columns, np.array(groups)
        self.threshold = threshold(false_alarms_per_10k, len(tests))
        self.state = np.zeros(len(tests))
        self.seen = 0

    def llr(self, enc: Encoded) -> np.ndarray:
        """Per-event log-likelihood ratios of every test, (n, tests); a missing value contributes nothing."""
        z, n = enc.z, enc.rows
        p = z.shape[1]
        out = np.empty((n, len(self.tests)))
        if p:
            (a0, b0, _), (a1, b1, _), (a2, _, c2), (a3, _, c3) = self._num
            num = out[:, : 4 * p].reshape(n, p, 4)  # a view: tests are laid out column by column
            zz = z * z
            num[:, :, 0] = a0 + b0 * z
            num[:, :, 1] = a1 + b1 * z
            num[:, :, 2] = a2 + c2 * zz
            num[:, :, 3] = a3 + c3 * zz
            missing = np.isnan(z)
            if missing.any():
                num[missing] = 0.0
        if self._hit.size:
            is_cat = enc.codes[:, self._slot_col] == self._slot_cat[None, :]
            out[:, 4 * p:] = np.where(is_cat, self._hit[None, :], self._miss[None, :])
        return out

    def update(self, enc: Encoded) -> list[Detection]:
        """Feed a batch; returns the detections in it (row numbers continue across batches)."""
        self.state, hits = scan_with_resets(self.state, self.llr(enc), self.threshold, self.groups)
        out = []
        for row, crossed, values in hits:
            for g in np.unique(self.groups[crossed]):
                mine = [i for i, t in enumerate(crossed) if self.groups[t] == g]
                i = max(mine, key=lambda m: values[m])  # one detection per column: its strongest test
                t = crossed[i]
                out.append(Detection(self.seen + row, self.columns[t], self.tests[t], float(values[i]), self.threshold))
        self.seen += enc.rows
        return out

    def describe(self, test: str) -> str:
        return f"CUSUM {test} crossed {self.threshold:.1f}"

    def to_state(self) -> list[float]:
        return self.state.tolist()

    def load_state(self, state: list[float]) -> bool:
        """Resume saved statistics; False (fresh start) when the tests differ (another profile)."""
        if len(state) != len(self.state):
            return False
        self.state = np.array(state)
        return True

    def statistic(self) -> dict[str, float]:
        """Each column's largest CUSUM statistic as a share of the threshold (1.0 = alarm)."""
        out: dict[str, float] = {}
        for value, column in zip(self.state, self.columns, strict=True):
            out[column] = max(out.get(column, 0.0), float(value) / self.threshold)
        return out

    def state_bytes(self) -> int:
        return self.state.nbytes + 8


class ErrorCusum:
    """One-sided Bernoulli CUSUM on the error stream of labelled predictions: only a worse model alarms."""

    name = "error_cusum"

    def __init__(self, p0: float, false_alarms_per_10k: float = 0.1, design: Design = Design()):
        self.p0 = p0
        self.p1 = min(0.95, max(p0 * design.error_ratio, p0 + 0.05))
        self.threshold = threshold(false_alarms_per_10k, 1)
        self.hit, self.miss = math.log(self.p1 / p0), math.log((1 - self.p1) / (1 - p0))
        self.state = np.zeros(1)
        self.seen = 0

    def update(self, errors: np.ndarray) -> list[Detection]:
        llr = np.where(np.asarray(errors, bool), self.hit, self.miss)[:, None]
        self.state, hits = scan_with_resets(self.state, llr, self.threshold, np.zeros(1, dtype=int))
        out = [Detection(self.seen + r, "__error__", "error_up", float(v[0]), self.threshold) for r, _, v in hits]
        self.seen += len(llr)
        return out
