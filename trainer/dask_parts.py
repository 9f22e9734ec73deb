"""What the Dask training run hands the fitter: the persisted training part and its row counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DISTRIBUTED = ("xgboost", "lightgbm")  # families with a Dask form: xgboost.dask, lightgbm.dask


@dataclass
class DaskParts:
    """The validated training part on the workers, and the row counts the samples were drawn from."""

    train: Any  # dask DataFrame, persisted; the fitter drops it once it has its matrices
    train_rows: int
    holdout_rows: int
    partitions: int
    train_lengths: list[int]  # rows of each training partition, in order
