"""Fitting candidates: one job per family, run in parallel processes where cores allow.

Workers are spawned (fresh interpreters), never forked from the caller: a fork of a process that already
ran OpenMP code (XGBoost, LightGBM) can hang.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from trainer import metrics, pipelines, plots


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
    pipeline: Any
    metrics: dict[str, float]
    params: dict[str, Any]
    confusion: list[list[int]]
    importance: dict[str, float]
    images: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0


def fit_candidate(job: FitJob) -> Fitted:
    """Fit one family on the training part and score it on the hold-out part."""
    started = time.perf_counter()
    features = [*job.numeric, *job.categorical]
    pipeline = pipelines.build(job.family, job.numeric, job.categorical, job.classes, job.seed)
    pipeline.fit(job.train[features], job.train[job.target])
    proba = metrics.proba_for(pipeline, job.holdout[features], job.classes)
    y_true = job.holdout[job.target]
    matrix = metrics.confusion(y_true, proba, job.classes)
    importance = pipelines.feature_importance(pipeline)
    return Fitted(
        family=job.family,
        pipeline=pipeline,
        metrics=metrics.score(y_true, proba, job.classes),
        params={**pipelines.FAMILIES[job.family], "seed": job.seed},
        confusion=matrix,
        importance=importance,
        images={
            "confusion_matrix.png": plots.confusion_png(matrix, job.classes, f"{job.family}: confusion matrix"),
            "feature_importance.png": plots.importance_png(importance, f"{job.family}: feature importance"),
        },
        seconds=time.perf_counter() - started,
    )


def worker_count(requested: int, jobs: int) -> int:
    """0 means one per core; never more processes than jobs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested or cores, jobs))


def _context():
    return multiprocessing.get_context("spawn")


def fit_all(jobs: list[FitJob], processes: int = 0, on_start: Callable[[str], None] | None = None) -> Iterator[Fitted]:
    """Fit every job, yielding each result as soon as it is done (the caller logs it while others still fit)."""
    workers = worker_count(processes, len(jobs))
    if workers == 1:
        for job in jobs:
            if on_start:
                on_start(job.family)
            yield fit_candidate(job)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        futures = []
        for job in jobs:
            if on_start:
                on_start(job.family)
            futures.append(pool.submit(fit_candidate, job))
        for future in as_completed(futures):
            yield future.result()
