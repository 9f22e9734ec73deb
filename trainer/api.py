"""The trainer's Python API: what `driftline train` runs and what the agent's executor calls for a retrain.

    outcome = train(settings)                                  # blocking, sync publish callback (or none)
    outcome = await train_async(settings, publish=bus.publish)  # from a coroutine: fits in a thread
"""

from __future__ import annotations

import asyncio
import fcntl
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from infra.models import CHAMPION, champion_version, configure_mlflow
from infra.settings import Settings
from schemas import Event
from schemas.data import CheckFailure, DataRejected
from trainer.fitting import Fitter
from trainer.pipelines import FAMILIES
from trainer.progress import Progress
from trainer.run import TrainingRun, TrainOutcome
from trainer.selection import PromotionRule

__all__ = ["DataInvalid", "TrainOutcome", "ensure_champion", "ensure_champion_async", "train", "train_async"]
log = logging.getLogger(__name__)
Publish = Callable[[Event], Any]


class DataInvalid(Exception):
    """The data set failed validation; a DataRejected event was emitted and nothing was trained."""

    def __init__(self, event, failures: list[CheckFailure]):
        self.event = event
        self.failures = failures
        super().__init__(f"data set {event.data.dataset} failed {len(failures)} check(s)")


class _Emitter:
    """Calls the publish callback with each event, whether it is sync or async, and never loses one silently."""

    def __init__(self, publish: Publish | None, loop: asyncio.AbstractEventLoop | None = None):
        self.publish, self.loop = publish, loop
        self.sent: list[Event] = []
        self.failed: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.sent.append(event)
        if self.publish is None:
            return
        try:
            result = self.publish(event)
            if inspect.isawaitable(result):
                self._wait(result)
        except Exception as exc:  # the training's result is in the registry either way; say what was not sent
            log.warning("could not publish %s %s: %s", event.type, event.id, exc)
            self.failed.append(event)

    def _wait(self, awaitable) -> None:
        if self.loop is not None:  # train_async: the callback belongs to the caller's loop
            asyncio.run_coroutine_threadsafe(_awaited(awaitable), self.loop).result(timeout=60)
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(_awaited(awaitable))
            return
        raise RuntimeError("an async publish callback from inside an event loop needs `await train_async(...)`")


async def _awaited(awaitable):
    return await awaitable


@contextmanager
def training_lock(settings: Settings) -> Iterator[None]:
    """One training at a time per data dir (the command, `driftline up` and the executor may overlap)."""
    path = settings.data_dir.resolve() / "train.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _local_backend(settings: Settings):
    def run(**kwargs) -> TrainingRun:
        return TrainingRun(settings, **kwargs)

    def fitter(run: TrainingRun, families: list[str], rows: int) -> Fitter:
        # Workers start now, so their start-up overlaps the MLflow set-up; none start for rejected data.
        return Fitter(settings.train_processes, len(families), rows=rows)

    yield run, fitter


def _backend(settings: Settings):
    """(run factory, fitter factory) of the configured backend: this process and its pool, or a Dask cluster."""
    if settings.train_backend == "dask":
        from trainer.dask_run import dask_backend

        return dask_backend(settings)
    return _local_backend(settings)


def _train(settings: Settings, emit: _Emitter, *, dataset: str, target: str | None, schema: Path | None,
           trigger: str, extra_rows: pd.DataFrame | None, families: list[str] | None, cause: Event | None,
           progress: Progress, promotion: dict | None = None) -> TrainOutcome:
    chosen = list(families or FAMILIES)
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown model families: {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    with _backend(settings) as (new_run, new_fitter):
        run = new_run(progress=progress, emit=emit, trigger=trigger, cause=cause,
                      rule=PromotionRule.from_dict(promotion, settings.promotion_margin))
        chosen = run.families(chosen)
        verdict = run.validate(dataset, target, schema, extra_rows)
        if isinstance(verdict, DataRejected):
            raise DataInvalid(verdict, verdict.data.failures)
        with new_fitter(run, chosen, verdict.data.rows) as fitter:
            outcome = run.fit_and_register(verdict, chosen, fitter)
    outcome.events, outcome.unpublished = list(emit.sent), list(emit.failed)
    return outcome


def train(settings: Settings, *, dataset: str = "builtin:breast_cancer", target: str | None = None,
          schema: Path | str | None = None, trigger: str = "manual", extra_rows: pd.DataFrame | None = None,
          families: list[str] | None = None, publish: Publish | None = None, cause: Event | None = None,
          progress: Progress | None = None, promotion: dict | None = None,
          _loop: asyncio.AbstractEventLoop | None = None, _only_without_champion: bool = False) -> TrainOutcome | None:
    """Validate, fit every family, track in MLflow, register the best as challenger, promote it if it wins.

    `extra_rows`: labelled production rows (data set's columns, target included), newest last, added to the
    training part; with `promotion` (the agent's PromotionRules as a dict) deciding on "recent", the newest share
    of them is held out instead and judges the promotion. `cause`: the event that asked for this training (e.g. the executor's action); the events emitted
    then share its correlation id. Raises DataInvalid (after emitting DataRejected) when validation fails.
    """
    if _loop is None and publish is not None and inspect.iscoroutinefunction(publish):
        try:
            asyncio.get_running_loop()
            raise TypeError("an async publish callback from inside an event loop needs `await train_async(...)`")
        except RuntimeError:
            pass  # no loop in this thread: each event is published with asyncio.run
    emit = _Emitter(publish, _loop)
    progress = progress or Progress()
    try:
        with training_lock(settings):
            if _only_without_champion:
                configure_mlflow(settings)
                current = champion_version(settings, CHAMPION)
                if current is not None:
                    log.info("champion exists (version %s); not training", current.version)
                    return None
            return _train(settings, emit, dataset=dataset, target=target, schema=Path(schema) if schema else None,
                          trigger=trigger, extra_rows=extra_rows, families=families, cause=cause, progress=progress,
                          promotion=promotion)
    finally:
        progress.close()


async def train_async(settings: Settings, **kwargs) -> TrainOutcome:
    """`train` from a coroutine: fitting runs in a thread, an async `publish` runs on this loop."""
    return await asyncio.to_thread(train, settings, _loop=asyncio.get_running_loop(), **kwargs)


def ensure_champion(settings: Settings, **kwargs) -> TrainOutcome | None:
    """Train (trigger "startup") only if the registry has no champion; None when one already exists."""
    kwargs.setdefault("trigger", "startup")
    return train(settings, _only_without_champion=True, **kwargs)


async def ensure_champion_async(settings: Settings, **kwargs) -> TrainOutcome | None:
    kwargs.setdefault("trigger", "startup")
    return await train_async(settings, _only_without_champion=True, **kwargs)
