"""Helpers for the shadow tests: a registry with a champion and a challenger, a worker that shadows, the monitor."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import numpy as np

from consumers.monitor.service import MonitorService
from inference.model_holder import ModelHolder
from inference.shadow import ShadowScorer
from inference.worker import SOURCE, InferenceWorker
from infra.champion import ChampionFollower
from schemas import LabelReceived, PredictionRequested
from tests.model_fixtures import breast_cancer_frame


def requests_and_labels(model: str, rows: int, seed: int) -> tuple[list[PredictionRequested], list[LabelReceived]]:
    """Seeded rows of breast cancer as bus requests, and their true labels."""
    frame = breast_cancer_frame()
    picked = frame.iloc[np.random.default_rng(seed).integers(0, len(frame), rows)].reset_index(drop=True)
    features = picked.drop(columns="target").to_dict("records")
    requests = [PredictionRequested(source="test", subject=model, data=dict(
        request_id=f"q{seed}-{i}", model=model, features=f)) for i, f in enumerate(features)]
    labels = [LabelReceived(source="test", subject=model, data=dict(request_id=f"q{seed}-{i}", model=model,
                                                                    label=int(picked["target"][i])))
              for i in range(rows)]
    return requests, labels


@asynccontextmanager
async def shadowing_worker(settings, bus):
    """An inference worker (one pull loop) that scores the registry's challengers in its shadow."""
    holder = ModelHolder(settings)
    assert await holder.load_alias()
    shadow = ShadowScorer(settings, bus, SOURCE)
    await shadow.refresh()
    worker = InferenceWorker(settings, bus, holder, shadow)
    runner = worker.runner()
    await runner.setup()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(runner.run(stop)), asyncio.create_task(shadow.run(stop))]
    try:
        yield holder, shadow
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)


@asynccontextmanager
async def running_monitor(settings, bus, pool):
    service = MonitorService(settings, bus, pool)
    follower = ChampionFollower(bus, settings.model_name, service.champion_changed, settings.model_poll_s)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop, follower))
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
