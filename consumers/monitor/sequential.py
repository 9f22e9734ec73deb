"""Challenger against champion on labelled pairs: a paired sequential test, valid however often it is read.

The metric is accuracy: a labelled request is one pair (was the champion right, was the challenger right), and the
accuracy difference is the mean of per-row differences, so evidence arrives row by row. (F1 and ROC AUC are not
means over rows, so no row-by-row martingale tests them directly.) Pairs where both are right or both wrong say
nothing about the difference (McNemar), so the test runs on the discordant ones: X = 1 when only the challenger is
right. With theta = P(X = 1 | discordant) and psi = P(discordant), the difference is psi (2 theta - 1); "no
difference" is theta = 1/2.

Statistic: the mixture likelihood ratio against theta = 1/2 with a Beta(a, a) prior on theta (mSPRT, Johari et al.
2017; a Beta-binomial mixture as in Lindon et al. 2022), M_d = B(a + s, a + d - s) / B(a, a) * 2^d after d
discordant pairs of which s favour the challenger. Under theta = 1/2 it is a non-negative martingale with mean 1,
so by Ville's inequality P(M ever reaches 1 / (2 alpha)) <= 2 alpha, and by the symmetry of the prior half of that
on each side: the challenger is promoted wrongly with probability at most alpha, whenever and however often the
state is read. Decisions: promote (M >= 1 / (2 alpha), challenger ahead), keep (the same, champion ahead: the
challenger is worse), inconclusive (the budget of labelled pairs is spent first).

The band: {theta0 : M_d(theta0) < 1 / (2 alpha)} is a confidence sequence for theta at level 1 - 2 alpha, the one
whose edge the decisions cross (promote exactly when its lower end passes 1/2). The running difference in accuracy
and its band are theta and that interval mapped through psi (2 theta - 1) at the observed discordance rate.

The prior a = 2 is tuned on the issue's setting (a challenger 2 points better at 5% discordance, theta = 0.7):
median / 75th percentile of labelled pairs to promotion 692 / 1,155, against 702 / 1,220 for a = 1 and
763 / 1,195 for a = 5 (bench/bench_shadow.py --prior 1,2,5; 2,000 runs each).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import betaln

PROMOTE, KEEP, INCONCLUSIVE = "promote", "keep", "inconclusive"
PRIOR = 2.0


def log_mixture(wins, discordant, prior: float = PRIOR, theta0=0.5):
    """log M: the Beta(prior, prior) mixture likelihood ratio of theta against theta0 (vectorised)."""
    wins, discordant = np.asarray(wins, dtype=float), np.asarray(discordant, dtype=float)
    return (betaln(prior + wins, prior + discordant - wins) - betaln(prior, prior)
            - wins * np.log(theta0) - (discordant - wins) * np.log1p(-theta0))


@dataclass
class ShadowTest:
    """The state of one challenger's test; `to_dict` / `from_dict` round-trip it through JSON."""

    alpha: float = 0.05
    budget: int = 5000  # labelled pairs before the test gives up: inconclusive
    prior: float = PRIOR
    pairs: int = 0
    discordant: int = 0
    wins: int = 0  # discordant pairs where only the challenger was right
    decision: str | None = None
    decided_at: int | None = None  # the pair that decided

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {self.alpha}")
        if self.budget < 1 or self.prior <= 0:
            raise ValueError(f"budget must be >= 1 and prior > 0, got budget={self.budget}, prior={self.prior}")

    @property
    def threshold(self) -> float:
        """log M at which the test decides."""
        return math.log(1 / (2 * self.alpha))

    def update(self, champion_correct, challenger_correct) -> int:
        """Add labelled pairs in order, stopping at the pair that decides; returns how many were taken."""
        champion = np.asarray(champion_correct, dtype=bool)
        challenger = np.asarray(challenger_correct, dtype=bool)
        if champion.shape != challenger.shape or champion.ndim != 1:
            raise ValueError("champion_correct and challenger_correct must be 1-d and of the same length")
        if self.decision is not None:
            return 0
        room = self.budget - self.pairs
        champion, challenger = champion[:room], challenger[:room]
        discordant = self.discordant + np.cumsum(champion != challenger)
        wins = self.wins + np.cumsum(challenger & ~champion)
        crossed = np.flatnonzero(log_mixture(wins, discordant, self.prior) >= self.threshold)
        taken = int(crossed[0]) + 1 if len(crossed) else len(champion)
        if taken:
            self.pairs += taken
            self.discordant, self.wins = int(discordant[taken - 1]), int(wins[taken - 1])
        if len(crossed):
            self.decision = PROMOTE if 2 * self.wins > self.discordant else KEEP
            self.decided_at = self.pairs
        elif self.pairs >= self.budget:
            self.decision, self.decided_at = INCONCLUSIVE, self.pairs
        return taken

    def theta_band(self) -> tuple[float, float]:
        """The confidence sequence for theta (level 1 - 2 alpha) after the pairs so far."""
        from scipy.optimize import brentq

        d, s = self.discordant, self.wins
        if d == 0:
            return 0.0, 1.0
        # log M(theta0) < threshold  <=>  s log theta0 + (d - s) log(1 - theta0) > floor; concave, peak at s / d.
        floor = betaln(self.prior + s, self.prior + d - s) - betaln(self.prior, self.prior) - self.threshold
        gap = lambda t: s * math.log(t) + (d - s) * math.log1p(-t) - floor  # noqa: E731
        eps, peak = 1e-12, min(max(s / d, 1e-9), 1 - 1e-9)
        lower = brentq(gap, eps, peak) if gap(eps) < 0 else 0.0
        upper = brentq(gap, peak, 1 - eps) if gap(1 - eps) < 0 else 1.0
        return lower, upper

    def status(self) -> dict:
        """What the page draws and the events carry: statistic, threshold, pairs, difference with its band."""
        lower, upper = self.theta_band()
        psi = self.discordant / self.pairs if self.pairs else 0.0
        return {
            "metric": "accuracy", "pairs": self.pairs, "discordant": self.discordant, "challenger_wins": self.wins,
            "champion_wins": self.discordant - self.wins,
            "statistic": float(log_mixture(self.wins, self.discordant, self.prior)) if self.discordant else 0.0,
            "threshold": self.threshold, "alpha": self.alpha, "budget": self.budget,
            "difference": (2 * self.wins - self.discordant) / self.pairs if self.pairs else 0.0,
            "difference_lower": psi * (2 * lower - 1), "difference_upper": psi * (2 * upper - 1),
            "band_level": 1 - 2 * self.alpha, "decision": self.decision, "decided_at": self.decided_at,
        }

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ShadowTest:
        return cls(**d)
