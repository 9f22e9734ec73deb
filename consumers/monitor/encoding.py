"""Turning a batch of records into the reference's rank space: normal scores, histogram bins, category codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import numpy as np
from scipy.special import ndtri

from consumers.monitor.reference import Profile


@dataclass(frozen=True)
class Encoded:
    """One batch: numeric columns as normal scores of their reference rank, bins, and category codes."""

    z: np.ndarray  # (n, numeric) float, NaN where missing
    bins: np.ndarray  # (n, numeric) int, -1 where missing
    codes: np.ndarray  # (n, categorical) int; the last code is 'other'

    @property
    def rows(self) -> int:
        return self.z.shape[0] if self.z.size or not self.codes.size else self.codes.shape[0]


def _to_float(values: list) -> np.ndarray:
    try:
        return np.array(values, dtype=float)
    except (TypeError, ValueError):  # a stray string: coerce cell by cell, unreadable cells are missing
        out = np.full(len(values), np.nan)
        for i, v in enumerate(values):
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                pass
        return out


class RankIndex:
    """Every numeric column's reference in one sorted array, so a batch is ranked with one searchsorted call.

    Column j's values are mapped strictly monotonically into [j, j + 1) (an arctan around the median), so one
    search over the concatenation ranks every column at once. Normal scores of every possible rank are
    tabulated up front: ranking was the per-event path's main cost.
    """

    def __init__(self, profile: Profile):
        refs = profile.numeric
        self.centre = np.array([np.median(r.sorted_values) for r in refs])
        self.scale = np.array([np.subtract(*np.percentile(r.sorted_values, [75, 25])) or r.sorted_values.std() or 1.0
                               for r in refs])
        self.n = np.array([r.n for r in refs], dtype=np.int64)
        self.nbins = np.array([len(r.bin_ref) for r in refs], dtype=np.int64)
        self.offset = np.concatenate([[0], np.cumsum(self.n)[:-1]]).astype(np.int64)
        self.sorted_keys = np.concatenate([self._keys(r.sorted_values, j) for j, r in enumerate(refs)])
        # Between reference values: left = right = r. Equal to reference value q: its own left/right.
        ranks = np.arange(self.n.max() + 1)
        self.z_gap = ndtri((2 * ranks[None, :] + 1) / (2.0 * (self.n[:, None] + 1)))
        eq_left, eq_z = [], []
        for r in refs:
            left = np.searchsorted(r.sorted_values, r.sorted_values, side="left")
            right = np.searchsorted(r.sorted_values, r.sorted_values, side="right")
            eq_left.append(left)
            eq_z.append(ndtri((left + right + 1) / (2.0 * (r.n + 1))))
        self.eq_left, self.eq_z = np.concatenate(eq_left), np.concatenate(eq_z)

    def _keys(self, x: np.ndarray, j) -> np.ndarray:
        return j + 0.5 + np.arctan((x - self.centre[j]) / self.scale[j]) / np.pi

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normal scores of the mid-rank (ties share one; beyond the reference about +-2.9) and histogram bins."""
        cols = np.arange(x.shape[1])
        keys = self._keys(x, cols)
        missing = np.isnan(keys)
        keys = np.where(missing, cols[None, :] + 0.5, keys)  # any in-range key; masked below
        pos = np.searchsorted(self.sorted_keys, keys, side="right")
        rank = pos - self.offset
        prev = np.maximum(pos - 1, 0)
        equal = (rank > 0) & (self.sorted_keys[prev] == keys)
        z = np.where(equal, self.eq_z[prev], self.z_gap[cols, rank])
        left = np.where(equal, self.eq_left[prev], rank)
        bins = np.minimum(left * self.nbins // self.n, self.nbins - 1)
        z[missing] = np.nan
        bins[missing] = -1
        return z, bins


def encode_matrix(profile: Profile, x: np.ndarray, categories: Sequence[Sequence] = (),
                  index: RankIndex | None = None) -> Encoded:
    """Encode numeric values (n, numeric) in profile order and raw categorical columns."""
    n = x.shape[0]
    if profile.numeric:
        z, bins = (index or RankIndex(profile)).encode(x)
    else:
        z, bins = np.zeros((n, 0)), np.zeros((n, 0), dtype=np.int64)
    codes = np.zeros((n, len(profile.categorical)), dtype=np.int64)
    for j, ref in enumerate(profile.categorical):
        index_of = {c: i for i, c in enumerate(ref.categories[:-1])}
        other = len(ref.categories) - 1
        codes[:, j] = [index_of.get(str(v), other) for v in categories[j]]
    return Encoded(z, bins, codes)


def numeric_matrix(records: Sequence[dict], names: Sequence[str]) -> np.ndarray:
    """(n, len(names)) floats from dicts, NaN where missing or unreadable; one C-level lookup per record."""
    if not names:
        return np.zeros((len(records), 0))
    getter = itemgetter(*names)
    try:
        values = [getter(r) for r in records]
    except KeyError:
        values = [tuple(r.get(n) for n in names) for r in records]
    if len(names) == 1:
        values = [(v,) for v in values]
    try:
        flat = np.fromiter(chain.from_iterable(values), dtype=float, count=len(records) * len(names))
        return flat.reshape(len(records), len(names))
    except (TypeError, ValueError):  # a missing value or stray string: column by column, cell by cell
        return np.column_stack([_to_float([v[j] for v in values]) for j in range(len(names))])


def encode_records(profile: Profile, records: Sequence[dict], index: RankIndex | None = None) -> Encoded:
    """Encode feature dicts (the prediction column under reference.PREDICTION) in profile order."""
    x = numeric_matrix(records, [c.name for c in profile.numeric])
    cats = [[r.get(c.name) for r in records] for c in profile.categorical]
    return encode_matrix(profile, x, cats, index)
