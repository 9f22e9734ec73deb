"""How the API hands events to its caller's callback: sync, async on the caller's loop, or failing."""

from __future__ import annotations

import asyncio

import pytest

from infra.settings import Settings
from schemas import AlertRaised
from trainer.api import _Emitter, train


def event():
    return AlertRaised(source="t", subject="m", data=dict(kind="data_drift", model="m", fingerprint="f",
                                                          statistic="psi", value=0.4, threshold=0.2, detector="psi"))


async def test_async_callback_from_inside_a_loop_is_refused_before_anything_runs(tmp_path):
    async def publish(e):
        return None

    with pytest.raises(TypeError, match="train_async"):
        train(Settings(data_dir=tmp_path), publish=publish)
    assert not (tmp_path / "train.lock").exists()


async def test_async_callback_runs_on_the_callers_loop_from_a_worker_thread():
    seen = []
    loop = asyncio.get_running_loop()

    async def publish(e):
        seen.append((e.id, asyncio.get_running_loop() is loop))

    emit = _Emitter(publish, loop)
    e = event()
    await asyncio.to_thread(emit, e)
    assert seen == [(e.id, True)] and emit.sent == [e] and emit.failed == []


def test_a_failing_callback_does_not_stop_training_but_is_reported():
    def publish(e):
        raise ConnectionError("bus down")

    emit = _Emitter(publish)
    e = event()
    emit(e)
    assert emit.failed == [e] and emit.sent == [e]
