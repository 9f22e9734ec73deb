"""Late ground truth: labels held until their delay has passed, then published on driftline.feedback.label."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

from infra.bus import Bus
from producers.publisher import PUBLISH_ATTEMPTS
from schemas import Event, LabelReceived, PredictionRequested

SOURCE = "producers/labels"


def label_for(request: PredictionRequested, label, source: str = SOURCE) -> LabelReceived:
    """The true class of a request: caused by it (same correlation id), joined by its request id."""
    return request.caused(LabelReceived, source=source, data=dict(
        request_id=request.data.request_id, model=request.data.model, label=label))


class LabelScheduler:
    """Publishes each label `delay` seconds after it was scheduled, in batches, from one task."""

    def __init__(self, bus: Bus, delay: float):
        self.bus = bus
        self.delay = delay
        self._heap: list[tuple[float, int, Event]] = []
        self._order = itertools.count()
        self.published = 0

    def schedule(self, event: Event) -> None:
        heapq.heappush(self._heap, (time.monotonic() + self.delay, next(self._order), event))

    async def publish_due(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        due = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        if due:
            await self.bus.publish_many(due, attempts=PUBLISH_ATTEMPTS)
            self.published += len(due)
        return len(due)

    async def run(self, stop: asyncio.Event, tick: float = 0.05) -> None:
        """Publish labels as they fall due until `stop`; then the rest as each falls due."""
        while not stop.is_set() or self._heap:
            await self.publish_due()
            await asyncio.sleep(tick)
