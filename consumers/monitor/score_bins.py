"""A window's scores, binned: the whole state the performance estimate needs, bounded whatever the traffic.

A row's score is the probability of the positive class for two classes, else the probability of the predicted
class (its confidence). Bins are 1/1000 wide and keep how many rows fell in them, the sum of their scores (so a
bin's probability is its rows' mean, not its centre) and, for labelled rows, how many were positive (two classes)
or correct (more). Bin j holds scores in (j/1000, (j+1)/1000], so a score of exactly 0.5, which argmax gives to
the first class, stays below the positive side. ROC AUC from bins counts a positive and a negative in the same
bin as a tie (half a pair): within 1/1000 of score, a difference that the realized AUC never shows in practice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BINS = 1000


def bin_of(scores: np.ndarray) -> np.ndarray:
    return np.clip(np.ceil(np.asarray(scores, dtype=float) * BINS).astype(np.int64) - 1, 0, BINS - 1)


@dataclass
class ScoreBins:
    rows: np.ndarray = field(default_factory=lambda: np.zeros(BINS, np.int64))
    score_sum: np.ndarray = field(default_factory=lambda: np.zeros(BINS))
    positives: np.ndarray = field(default_factory=lambda: np.zeros(BINS, np.int64))

    @property
    def n(self) -> int:
        return int(self.rows.sum())

    def add(self, scores, positive=None) -> None:
        """Rows with these scores; `positive` (labelled rows): whether each was positive (or correct)."""
        scores = np.asarray(scores, dtype=float)
        keep = np.isfinite(scores)
        which = bin_of(scores[keep])
        np.add.at(self.rows, which, 1)
        np.add.at(self.score_sum, which, scores[keep])
        if positive is not None:
            np.add.at(self.positives, which, np.asarray(positive, dtype=np.int64)[keep])

    def occupied(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bin index, rows, mean score, positives) of the non-empty bins, in score order."""
        j = np.flatnonzero(self.rows)
        return j, self.rows[j], self.score_sum[j] / self.rows[j], self.positives[j]

    def to_dict(self) -> dict:
        j = np.flatnonzero(self.rows)
        return {"bins": j.tolist(), "rows": self.rows[j].tolist(), "score_sum": self.score_sum[j].tolist(),
                "positives": self.positives[j].tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> ScoreBins:
        out = cls()
        j = np.asarray(d["bins"], dtype=np.int64)
        out.rows[j], out.score_sum[j], out.positives[j] = d["rows"], d["score_sum"], d["positives"]
        return out
