"""Publishing prediction events behind the caller's back: a bounded buffer drained by one task.

The HTTP caller never waits for the bus. While the bus is slow or down, events wait here; when the buffer is
full the oldest are dropped and counted in driftline_prediction_events_dropped_total (and logged), never silently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from inference import metrics
from infra import tracing
from infra.bus import Bus

log = logging.getLogger(__name__)


class _Traced:
    __slots__ = ("item", "trace")

    def __init__(self, item, trace: dict[str, str]):
        self.item, self.trace = item, trace


class EventBuffer:
    """Bounded FIFO of events with one background publisher using pipelined acks."""

    def __init__(self, bus: Bus, *, capacity: int = 50_000, chunk: int = 500, retry_s: float = 0.5,
                 linger_s: float = 0.01, build: Callable[[object], object] | None = None):
        self.bus = bus
        self.capacity = capacity
        self.chunk = chunk
        self.retry_s = retry_s
        self.linger_s = linger_s
        self._build = build or (lambda item: item)
        self._items: deque = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.dropped = 0
        self._last_warning = 0.0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item) -> None:
        """Queue one event (or what `build` turns into one) without waiting; with tracing on, the trace context
        of the request in hand goes with it (`build` must then return an event with a `trace` slot)."""
        if len(self._items) >= self.capacity:
            self._items.popleft()
            self._drop(1)
        self._items.append(_Traced(item, tracing.current_headers()) if tracing.ENABLED else item)
        self._wake.set()

    def _event(self, item):
        if hasattr(item, "to_bytes"):  # requeued: already built
            return item
        if type(item) is _Traced:
            event = self._build(item.item)
            event.trace = item.trace
            return event
        return self._build(item)

    def _drop(self, n: int, why: str = "buffer full") -> None:
        self.dropped += n
        metrics.EVENTS_DROPPED.inc(n)
        now = time.monotonic()
        if now - self._last_warning > 5 or why != "buffer full":
            self._last_warning = now
            log.warning("%d prediction events not published (%s, bound %d); %d dropped so far", n, why,
                        self.capacity, self.dropped)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="prediction-event-publisher")

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Try to publish what is left, then stop; whatever cannot be published is counted as dropped."""
        if self._task is None:
            return
        deadline = time.monotonic() + flush_timeout
        while self._items and self.bus.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        if self._items:
            self._drop(len(self._items), "bus too slow or down at shutdown")
            self._items.clear()
        metrics.EVENTS_BUFFERED.set(0)

    async def _run(self) -> None:
        while True:
            if not self._items:
                self._wake.clear()
                await self._wake.wait()
                # Gather a few more: one publish round per event would cost more CPU than the request itself.
                await asyncio.sleep(self.linger_s)
            metrics.EVENTS_BUFFERED.set(len(self._items))
            if not self.bus.connected:
                await asyncio.sleep(self.retry_s)
                continue
            taken = [self._items.popleft() for _ in range(min(self.chunk, len(self._items)))]
            events = [self._event(item) for item in taken]
            try:
                await self.bus.publish_many(events)
            except Exception as exc:
                metrics.PUBLISH_ERRORS.inc()
                log.warning("could not publish %d prediction events (%r); will retry", len(events), exc)
                self._requeue(events)
                await asyncio.sleep(self.retry_s)
                continue
            metrics.EVENTS_PUBLISHED.inc(len(events))

    def _requeue(self, events: list) -> None:
        """Put a failed chunk back in front (same ids: JetStream drops any copy that did get stored)."""
        room = self.capacity - len(self._items)
        if room < len(events):
            self._drop(len(events) - room)
            events = events[len(events) - room:] if room > 0 else []
        self._items.extendleft(reversed(events))
