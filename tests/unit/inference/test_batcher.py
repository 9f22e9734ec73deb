"""Concurrent requests share model calls; a swap takes effect between calls; one bad request fails alone."""

from __future__ import annotations

import asyncio

import pytest

from inference.batcher import MicroBatcher, ModelUnavailable
from inference.model_holder import Prediction


class Model:
    def __init__(self, version: str):
        self.version = version


def recording_predict(calls: list):
    def predict(model, records):
        calls.append((model.version, len(records)))
        if any(r.get("boom") for r in records):
            raise ValueError("cannot predict boom")
        return [Prediction(r["x"], {"0": 1.0}) for r in records]

    return predict


async def test_concurrent_requests_are_coalesced_into_few_calls():
    calls: list = []
    batcher = MicroBatcher(lambda: Model("1"), predict=recording_predict(calls))
    results = await asyncio.gather(*(batcher.submit([{"x": i}, {"x": -i}]) for i in range(50)))
    await batcher.stop()
    assert [[p.predicted_class for p in preds] for _, preds in results] == [[i, -i] for i in range(50)]
    assert sum(n for _, n in calls) == 100
    assert len(calls) < 5  # 50 requests arrived in one loop turn


async def test_max_records_bounds_one_call():
    calls: list = []
    batcher = MicroBatcher(lambda: Model("1"), predict=recording_predict(calls), max_records=8)
    await asyncio.gather(*(batcher.submit([{"x": i}]) for i in range(20)))
    await batcher.stop()
    assert max(n for _, n in calls) <= 8 and sum(n for _, n in calls) == 20


async def test_a_swap_applies_to_the_next_call_and_every_answer_names_its_model():
    current = {"model": Model("1")}
    calls: list = []
    batcher = MicroBatcher(lambda: current["model"], predict=recording_predict(calls))
    first = await asyncio.gather(*(batcher.submit([{"x": i}]) for i in range(5)))
    current["model"] = Model("2")
    second = await asyncio.gather(*(batcher.submit([{"x": i}]) for i in range(5)))
    await batcher.stop()
    assert {m.version for m, _ in first} == {"1"} and {m.version for m, _ in second} == {"2"}


async def test_a_request_the_model_rejects_fails_alone():
    calls: list = []
    batcher = MicroBatcher(lambda: Model("1"), predict=recording_predict(calls))
    results = await asyncio.gather(batcher.submit([{"x": 1}]), batcher.submit([{"boom": True, "x": 0}]),
                                   batcher.submit([{"x": 3}]), return_exceptions=True)
    await batcher.stop()
    assert [r[1][0].predicted_class for r in (results[0], results[2])] == [1, 3]
    assert isinstance(results[1], ValueError)


async def test_no_model_means_unavailable():
    batcher = MicroBatcher(lambda: None, predict=recording_predict([]))
    with pytest.raises(ModelUnavailable):
        await batcher.submit([{"x": 1}])
    await batcher.stop()
