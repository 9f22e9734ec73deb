"""Fitting candidates: one job per family, run in parallel processes where cores allow.

Workers are spawned (fresh interpreters), never forked from the caller: a fork of a process that already
ran OpenMP code (XGBoost, LightGBM) can hang.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from infra import plots
from trainer import calibration, metrics, pipelines


@dataclass(frozen=True)
class FitJob:
    family: str
    train: pd.DataFrame
    holdout: pd.DataFrame
    target: str
    numeric: list[str]
    categorical: list[str]
    classes: list[Any]
    seed: int


@dataclass
class Fitted:
    family: str
    pipeline: Any  # the served model: preprocessing, then the calibrated classifier
    metrics: dict[str, float]
    params: dict[str, Any]
    confusion: list[list[int]]
    importance: dict[str, float]
    images: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0


def fit_candidate(job: FitJob) -> Fitted:
    """Fit one family on the training part, calibrate it there (cross-fit), and score it on the hold-out part."""
    started = time.perf_counter()
    features = [*job.numeric, *job.categorical]
    unfitted = pipelines.build(job.family, job.numeric, job.categorical, job.classes, job.seed)
    pipeline, uncalibrated = calibration.calibrate(unfitted, job.train[features], job.train[job.target], seed=job.seed)
    return scored(job, pipeline, started, uncalibrated=uncalibrated,
                  calibration=f"{calibration.METHOD}, cross-fit over {calibration.FOLDS} folds")


def scored(job: FitJob, pipeline, started: float, uncalibrated=None, **params) -> Fitted:
    """A fitted pipeline scored on the job's hold-out part, with its plots; `params` add to the family's own.
    `uncalibrated`: the same model before calibration, when it was calibrated (its error before and after is
    recorded); a model trained elsewhere (Dask) comes uncalibrated and says so by lacking those metrics."""
    features = [*job.numeric, *job.categorical]
    proba = metrics.proba_for(pipeline, job.holdout[features], job.classes)
    y_true = job.holdout[job.target]
    matrix = metrics.confusion(y_true, proba, job.classes)
    importance = pipelines.feature_importance(uncalibrated if uncalibrated is not None else pipeline)
    scores = metrics.score(y_true, proba, job.classes)
    if uncalibrated is not None:
        before = metrics.proba_for(uncalibrated, job.holdout[features], job.classes)
        scores.update(calibration.calibration_metrics(y_true, proba, before, job.classes))
    return Fitted(
        family=job.family,
        pipeline=pipeline,
        metrics=scores,
        params={**pipelines.FAMILIES[job.family], "seed": job.seed, **params},
        confusion=matrix,
        importance=importance,
        images={
            "confusion_matrix.png": plots.confusion(matrix, job.classes, f"{job.family}: confusion matrix", fmt="png"),
            "feature_importance.png": plots.importance(importance, f"{job.family}: feature importance", top=15,
                                                       fmt="png"),
        },
        seconds=time.perf_counter() - started,
    )


# Below this many rows a fit takes well under a second, less than a worker's start-up (an interpreter importing
# scikit-learn, XGBoost and LightGBM: ~4 s of CPU); measured on breast cancer (569 rows, 2 cores): 43 s with two
# processes against 30 s in-process for the whole `driftline train`.
PARALLEL_MIN_ROWS = 5000


def worker_count(requested: int, jobs: int, rows: int = PARALLEL_MIN_ROWS) -> int:
    """Processes to fit `jobs` candidates: as requested, or (0) one per core once the data is big enough."""
    if requested == 0 and rows < PARALLEL_MIN_ROWS:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested or cores, jobs))


def _context():
    return multiprocessing.get_context("spawn")


def _warm() -> int:
    """Import the model libraries in a worker while the caller still validates and sets up MLflow."""
    import lightgbm  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import xgboost  # noqa: F401

    return os.getpid()


class Fitter:
    """A pool of fitting processes, started early so interpreter start-up overlaps the caller's own work."""

    def __init__(self, processes: int = 0, jobs: int = 4, rows: int = PARALLEL_MIN_ROWS):
        self.workers = worker_count(processes, jobs, rows)
        self.pool = ProcessPoolExecutor(self.workers, mp_context=_context()) if self.workers > 1 else None
        if self.pool:
            for _ in range(self.workers):
                self.pool.submit(_warm)

    def __enter__(self) -> Fitter:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def fit_all(self, jobs: list[FitJob]) -> Iterator[Fitted]:
        """Fit every job, yielding each result as soon as it is done (the caller logs it while others still fit)."""
        if self.pool is None:
            for job in jobs:
                yield fit_candidate(job)
            return
        futures = [self.pool.submit(fit_candidate, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
