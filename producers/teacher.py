"""A fixed label relation ("teacher") fitted once on a data set, so simulated labels keep one input -> outcome rule.

Drawing each simulated row's own label (the default) ties the label to the row that was sampled: a feature shift
then changes the relation between inputs and outcome as well. With labels drawn from a fixed relation, a pure
covariate shift keeps the relation, and its harm to a model comes only from where the model is weak.

The teacher is a logistic regression on the real labels over log-scaled, standardised numeric features (smooth
beyond the data's range, and not linear in the raw features a model sees; a column with negative values or a zero
median is standardised without the log) and one-hot categories. Its logit is scaled ("tempered") so that the best
accuracy anyone can reach on the tempering rows is `accuracy`. The default, 0.98, is about what the built-in data's
champion reaches on its own reference hold-out (F1 0.978): measured, a champion's F1 on teacher labels is 0.968 with
0.96 and 0.982 with 0.98, so with 0.96 traffic from the training distribution already reads as a quality drop.
Deterministic: the same frame, seed and accuracy give the same teacher.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class Teacher:
    def __init__(self, frame: pd.DataFrame, target: str, *, accuracy: float = 0.98, seed: int = 0,
                 temper_on: pd.DataFrame | None = None, C: float = 0.05):
        from sklearn.linear_model import LogisticRegression

        if target not in frame.columns:
            raise ValueError(f"target column {target!r} is not in the data")
        classes = sorted(frame[target].dropna().unique().tolist())
        if len(classes) != 2:
            raise ValueError(f"labels from a fixed relation need a two-class target; {target!r} has {len(classes)}")
        if not 0.5 < accuracy < 1:
            raise ValueError(f"accuracy must be between 0.5 and 1, got {accuracy}")
        self.classes = classes
        self.features = [c for c in frame.columns if c != target]
        features = frame[self.features]
        numeric = [c for c in self.features if pd.api.types.is_numeric_dtype(features[c])]
        self.levels = {c: sorted(features[c].dropna().astype(str).unique()) for c in self.features if c not in numeric}
        self.numeric = numeric
        x = features[numeric].to_numpy(float)
        median = np.median(x, axis=0)
        self.logged = (x.min(axis=0) >= 0) & (median > 0)
        self.scale = np.where(self.logged, median, 1.0)
        raw = self._transform(x)
        self.mu, self.sigma = raw.mean(axis=0), raw.std(axis=0)
        self.sigma[self.sigma == 0] = 1.0
        model = LogisticRegression(C=C, max_iter=2000).fit(self._scores(features), frame[target] == classes[1])
        self.w, self.b = model.coef_[0], float(model.intercept_[0])
        if temper_on is None:  # a seeded bootstrap of the data itself
            temper_on = features.sample(20_000, replace=True, random_state=np.random.default_rng(seed))
        self.temperature = self._temper(self._logit(temper_on), accuracy)
        # Most important first: largest |weight| on standardised scores (numeric columns, then category levels).
        names = numeric + [f"{c}={v}" for c, levels in self.levels.items() for v in levels]
        self.ranked = [names[i] for i in np.argsort(-np.abs(self.w))]

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return np.where(self.logged, np.log1p(np.maximum(x / self.scale, -0.99)), x)

    def _scores(self, rows: pd.DataFrame) -> np.ndarray:
        parts = [(self._transform(rows[self.numeric].to_numpy(float)) - self.mu) / self.sigma]
        for name, levels in self.levels.items():
            values = rows[name].astype(str).to_numpy()
            parts.append(np.column_stack([values == v for v in levels]).astype(float))
        return np.hstack(parts)

    def _logit(self, rows: pd.DataFrame) -> np.ndarray:
        return self._scores(rows) @ self.w + self.b

    @staticmethod
    def _temper(logit: np.ndarray, target: float) -> float:
        """The factor t for which E[max(p, 1 - p)] with p = sigmoid(t * logit) equals target (bisection)."""
        lo, hi = 0.01, 20.0
        for _ in range(60):
            mid = (lo + hi) / 2
            p = 1 / (1 + np.exp(-mid * logit))
            lo, hi = (mid, hi) if np.maximum(p, 1 - p).mean() < target else (lo, mid)
        return (lo + hi) / 2

    def p_true(self, rows: pd.DataFrame) -> np.ndarray:
        """P(label = the second class | x) under the teacher."""
        return 1 / (1 + np.exp(-self.temperature * self._logit(rows)))

    def p_record(self, record: dict) -> float:
        """The same for one record (a row of features as the simulator builds it)."""
        # One row at a time on the simulator's path: plain numpy, about 20 us (a one-row DataFrame costs ~1 ms).
        x = np.array([float(record[c]) for c in self.numeric])
        parts = [(self._transform(x) - self.mu) / self.sigma]
        parts += [np.array([str(record[c]) == v for v in levels], float) for c, levels in self.levels.items()]
        logit = float(np.concatenate(parts) @ self.w + self.b)
        return 1 / (1 + np.exp(-self.temperature * logit))
