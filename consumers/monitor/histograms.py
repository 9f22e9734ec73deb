"""Fixed-bin histograms per window, updated per batch; PSI, Wasserstein-1 and chi-squared read off the counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2 as chi2_dist

from consumers.monitor.encoding import Encoded
from consumers.monitor.reference import Profile

PSI_THRESHOLD = 0.2  # the customary "significant shift" level
WASSERSTEIN_THRESHOLD = 0.1  # in reference standard deviations, as Evidently's default for large windows


@dataclass(frozen=True)
class ColumnStat:
    column: str
    statistic: str
    value: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.value > self.threshold


class WindowHistogram:
    """Counts per (column, bin) for the current window; never looks at raw rows again."""

    def __init__(self, profile: Profile, alpha: float = 0.01):
        self.profile = profile
        self.alpha = alpha
        self.nbins = max((len(r.bin_ref) for r in profile.numeric), default=1)
        self.num_counts = np.zeros((len(profile.numeric), self.nbins), dtype=np.int64)
        self.cat_counts = [np.zeros(len(r.categories), dtype=np.int64) for r in profile.categorical]
        tests = max(len(profile.categorical), 1)
        self.chi2_limits = [float(chi2_dist.ppf(1 - alpha / tests, len(r.categories) - 1)) for r in profile.categorical]
        if len({len(r.bin_ref) for r in profile.numeric}) > 1:
            raise ValueError("every numeric column needs the same number of bins")

    def update(self, enc: Encoded) -> None:
        if self.num_counts.size:
            p = self.num_counts.shape[0]
            flat = (np.arange(p)[None, :] * self.nbins + enc.bins)[enc.bins >= 0]
            self.num_counts += np.bincount(flat, minlength=p * self.nbins).reshape(p, self.nbins)
        for j, counts in enumerate(self.cat_counts):
            counts += np.bincount(enc.codes[:, j], minlength=len(counts))

    def reset(self) -> None:
        self.num_counts[:] = 0
        for counts in self.cat_counts:
            counts[:] = 0

    def statistics(self) -> list[ColumnStat]:
        """PSI and Wasserstein-1 per numeric column, chi-squared (Bonferroni level) per categorical one."""
        out = []
        refs = self.profile.numeric
        if refs:
            # build_profile gives every column the same bin count: all columns in a few array operations.
            counts = self.num_counts.astype(float)
            n = counts.sum(axis=1, keepdims=True)
            ref_share = np.array([r.bin_ref for r in refs])
            base = np.clip(ref_share, 1e-4, None)
            cur = (counts + 0.5) / (n + 0.5 * self.nbins)
            psi = np.sum((cur - base) * np.log(cur / base), axis=1)
            # CDF gap at each inner bin edge, weighted by half the widths of the two bins it separates.
            gap = np.abs(np.cumsum(counts / np.maximum(n, 1), axis=1) - np.cumsum(ref_share, axis=1))[:, :-1]
            widths = np.array([r.bin_width for r in refs])
            wasserstein = np.sum(gap * (widths[:, :-1] + widths[:, 1:]) / 2, axis=1)
            for j, ref in enumerate(refs):
                if n[j, 0]:
                    out.append(ColumnStat(ref.name, "psi", float(psi[j]), PSI_THRESHOLD))
                    out.append(ColumnStat(ref.name, "wasserstein", float(wasserstein[j]), WASSERSTEIN_THRESHOLD))
        for ref, counts, limit in zip(self.profile.categorical, self.cat_counts, self.chi2_limits, strict=True):
            n = counts.sum()
            if n == 0:
                continue
            expected = n * ref.shares
            value = float(np.sum((counts - expected) ** 2 / expected))
            out.append(ColumnStat(ref.name, "chi2", value, limit))
        return out

    def state_bytes(self) -> int:
        return self.num_counts.nbytes + sum(c.nbytes for c in self.cat_counts)
