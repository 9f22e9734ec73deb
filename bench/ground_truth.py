"""A world with a known label relation, built from the built-in data set, for the estimation benchmarks.

`driftline simulate` draws rows from the training data and keeps each row's own label, so a feature shift there
changes the relation between inputs and outcome too. To measure an estimate that is only valid while that relation
holds, the benchmarks need rows and labels from a fixed relation:

- rows: fresh draws from a Gaussian copula of breast cancer's 30 features (their normal scores' correlation, and
  each feature's own empirical quantiles), so production rows are new rows from the training distribution;
- labels: the simulator's logistic "teacher" (producers/teacher.py, also behind `driftline simulate --labels
  ground-truth`) fitted on the real labels, its logit scaled so that the best possible accuracy on fresh rows is
  `bayes_accuracy` (the real data set's models reach about 0.96);
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

        from producers.teacher import Teacher

        frame = breast_cancer()
        self.features = [c for c in frame.columns if c != TARGET]
        x = frame[self.features].to_numpy(float)
        self.sorted = np.sort(x, axis=0)
        self.corr = np.corrcoef(norm.ppf(rankdata(x, axis=0) / (len(x) + 1)).T)
        self.sd = x.std(axis=0, ddof=1)
        # The label relation is the simulator's teacher (producers/teacher.py), tempered on fresh copula rows.
        self.teacher = Teacher(frame, TARGET, accuracy=bayes_accuracy,
                               temper_on=self.rows(20_000, np.random.default_rng(12345)))
        self.temperature = self.teacher.temperature
        self.ranked = self.teacher.ranked

    def rows(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        from scipy.stats import norm

        u = norm.cdf(rng.multivariate_normal(np.zeros(len(self.features)), self.corr, size=n, method="cholesky"))
        grid = np.arange(len(self.sorted))
        x = np.column_stack([np.interp(u[:, j] * (len(grid) - 1), grid, self.sorted[:, j])
                             for j in range(len(self.features))])
        return pd.DataFrame(x, columns=self.features)

    def p_true(self, rows: pd.DataFrame) -> np.ndarray:
        """P(target = 1 | x) under the teacher."""
        return self.teacher.p_true(rows[self.features])

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
