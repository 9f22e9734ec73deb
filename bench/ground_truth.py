"""A world with a known label relation, built from the built-in data set, for the estimation benchmarks.

`driftline simulate` draws rows from the training data and keeps each row's own label, so a feature shift there
changes the relation between inputs and outcome too. To measure an estimate that is only valid while that relation
holds, the benchmarks need rows and labels from a fixed relation:

- rows: fresh draws from a Gaussian copula of breast cancer's 30 features (their normal scores' correlation, and
  each feature's own empirical quantiles), so production rows are new rows from the training distribution;
- labels: a logistic "teacher" fitted on the real labels over log-scaled, standardised features (smooth beyond
  the data's range, and not linear in the raw features the models see), its logit scaled so that the best
  possible accuracy is `bayes_accuracy` (the real data set's models reach about 0.96);
- covariate shift: features moved by SIGMAS standard deviations, labels still drawn from the teacher;
- concept change: inside a segment (the top share of one feature) the relation flips (p -> 1 - p).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TARGET = "target"


def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame


@dataclass(frozen=True)
class Drift:
    """What changes from the drift row on: mean shifts (in sd) and a flipped segment (feature, top share)."""

    shift: tuple[tuple[str, float], ...] = ()
    flip: tuple[str, float] | None = None


class World:
    def __init__(self, bayes_accuracy: float = 0.96):
        from scipy.stats import norm, rankdata
        from sklearn.linear_model import LogisticRegression

        frame = breast_cancer()
        self.features = [c for c in frame.columns if c != TARGET]
        x = frame[self.features].to_numpy(float)
        self.sorted = np.sort(x, axis=0)
        self.corr = np.corrcoef(norm.ppf(rankdata(x, axis=0) / (len(x) + 1)).T)
        self.sd = x.std(axis=0, ddof=1)
        self.scale = np.median(x, axis=0)
        logged = np.log1p(x / self.scale)
        self.mu, self.sigma = logged.mean(axis=0), logged.std(axis=0)
        teacher = LogisticRegression(C=0.05, max_iter=2000).fit(self._scores(x), frame[TARGET])
        self.w, self.b = teacher.coef_[0], float(teacher.intercept_[0])
        self._temper(bayes_accuracy)
        # The teacher's most important features: largest |weight| on standardised scores.
        self.ranked = [self.features[i] for i in np.argsort(-np.abs(self.w))]

    def _scores(self, x: np.ndarray) -> np.ndarray:
        return (np.log1p(np.maximum(x / self.scale, -0.99)) - self.mu) / self.sigma

    def _logit(self, x: np.ndarray) -> np.ndarray:
        return self._scores(x) @ self.w + self.b

    def _temper(self, target: float) -> None:
        """Scale the logit so that E[max(p, 1 - p)] over fresh rows (the best accuracy anyone can reach) = target."""
        logit = self._logit(self.rows(20_000, np.random.default_rng(12345)).to_numpy(float))
        lo, hi = 0.01, 20.0
        for _ in range(60):
            mid = (lo + hi) / 2
            p = 1 / (1 + np.exp(-mid * logit))
            lo, hi = (mid, hi) if np.maximum(p, 1 - p).mean() < target else (lo, mid)
        self.temperature = (lo + hi) / 2

    def rows(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        from scipy.stats import norm

        u = norm.cdf(rng.multivariate_normal(np.zeros(len(self.features)), self.corr, size=n, method="cholesky"))
        grid = np.arange(len(self.sorted))
        x = np.column_stack([np.interp(u[:, j] * (len(grid) - 1), grid, self.sorted[:, j])
                             for j in range(len(self.features))])
        return pd.DataFrame(x, columns=self.features)

    def p_true(self, rows: pd.DataFrame) -> np.ndarray:
        """P(target = 1 | x) under the teacher."""
        return 1 / (1 + np.exp(-self.temperature * self._logit(rows[self.features].to_numpy(float))))

    def labelled(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """A training data set: fresh rows with labels drawn from the teacher."""
        rows = self.rows(n, rng)
        return rows.assign(**{TARGET: (rng.random(n) < self.p_true(rows)).astype(int)})

    def stream(self, n: int, rng: np.random.Generator, drift: Drift = Drift(), drift_at: int = 0
               ) -> tuple[pd.DataFrame, np.ndarray]:
        """(rows, labels) of a production stream, drifted from row `drift_at` on."""
        rows = self.rows(n, rng)
        for name, sigmas in drift.shift:
            j = self.features.index(name)
            rows.iloc[drift_at:, j] += sigmas * self.sd[j]
        p = self.p_true(rows)
        if drift.flip is not None:
            name, share = drift.flip
            cut = np.quantile(self.rows(20_000, np.random.default_rng(54321))[name], 1 - share)
            segment = (rows[name].to_numpy() > cut) & (np.arange(n) >= drift_at)
            p = np.where(segment, 1 - p, p)
        return rows, (rng.random(n) < p).astype(int)
