"""Coalescing concurrent requests into one model call: requests that arrive while the model is busy share the
next call, so 32 connections cost a few calls instead of 32 (a sklearn call has ~0.2 ms fixed overhead)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

from inference import metrics
from inference.model_holder import Prediction, predict_batch
from infra.models import LoadedModel

log = logging.getLogger(__name__)

Predict = Callable[[LoadedModel, Sequence[dict]], list[Prediction]]


class ModelUnavailable(RuntimeError):
    """No model is loaded yet."""


class MicroBatcher:
    """One task that drains the queue of pending requests and predicts them together on the model served now."""

    def __init__(self, model: Callable[[], LoadedModel | None], *, max_records: int = 256, max_wait_s: float = 0.0,
                 predict: Predict = predict_batch, channel: str = "http"):
        self._model = model
        self.max_records = max_records
        self.max_wait_s = max_wait_s
        self._predict = predict
        self._channel = channel
        self._queue: asyncio.Queue[tuple[Sequence[dict], asyncio.Future]] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    def apply_config(self, values: dict) -> None:
        """infra.runtime_config.ConfigFollower's callback (the gateway's runtime keys, already checked): the next
        model call takes the new sizes."""
        self.max_records = values.get("gateway_batch_max", self.max_records)
        self.max_wait_s = values.get("gateway_batch_wait_s", self.max_wait_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def submit(self, records: Sequence[dict]) -> tuple[LoadedModel, list[Prediction]]:
        """Predict `records` (already validated) in the next model call; returns the model that answered."""
        self.start()
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((records, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self.max_wait_s > 0:
                await asyncio.sleep(self.max_wait_s)
            else:
                await asyncio.sleep(0)  # let requests parsed in this loop turn join the call
            size = len(batch[0][0])
            while size < self.max_records and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item[0])
            self._answer(batch)

    def _answer(self, batch: list[tuple[Sequence[dict], asyncio.Future]]) -> None:
        model = self._model()  # one snapshot for the whole call: a swap now affects the next call only
        live = [(records, fut) for records, fut in batch if not fut.done()]
        if model is None:
            for _, fut in live:
                fut.set_exception(ModelUnavailable("no model is loaded yet"))
            return
        records = [record for part, _ in live for record in part]
        try:
            predictions = self._predict(model, records)
        except Exception:
            if len(live) > 1:  # isolate the request the model cannot handle; answer the others
                for item in live:
                    self._answer_one(model, item)
                return
            raise_into(live[0][1])
            return
        metrics.child(metrics.BATCH_SIZE, self._channel).observe(len(records))
        start = 0
        for part, fut in live:
            fut.set_result((model, predictions[start:start + len(part)]))
            start += len(part)

    def _answer_one(self, model: LoadedModel, item: tuple[Sequence[dict], asyncio.Future]) -> None:
        records, fut = item
        try:
            fut.set_result((model, self._predict(model, records)))
        except Exception:
            raise_into(fut)


def raise_into(fut: asyncio.Future) -> None:
    """Hand the exception being handled to the waiting request."""
    exc = sys.exc_info()[1]
    log.warning("model call failed: %r", exc)
    fut.set_exception(exc)
