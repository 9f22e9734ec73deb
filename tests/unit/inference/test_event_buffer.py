"""Prediction events never wait on the caller, survive a bus outage within a bound, and are never lost silently."""

from __future__ import annotations

import asyncio

from inference import metrics
from inference.event_buffer import EventBuffer
from schemas import PredictionRequested


class FakeBus:
    def __init__(self):
        self.connected = True
        self.fail = False
        self.stored: dict[str, object] = {}

    async def publish_many(self, events):
        if self.fail:
            raise TimeoutError("no acks")
        for event in events:
            self.stored[event.id] = event  # keyed by id, like JetStream's duplicate window


def event(i: int) -> PredictionRequested:
    return PredictionRequested(source="t", subject="m", data={"request_id": f"r{i}", "features": {"x": float(i)}})


async def until(condition, timeout=5.0):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_events_are_published_in_the_background():
    bus = FakeBus()
    buffer = EventBuffer(bus, capacity=100)
    buffer.start()
    for i in range(10):
        buffer.add(event(i))
    await until(lambda: len(bus.stored) == 10)
    await buffer.stop()
    assert buffer.dropped == 0


async def test_bus_down_buffers_then_drops_the_oldest_and_counts_them():
    bus = FakeBus()
    bus.connected = False
    before = metrics.EVENTS_DROPPED._value.get()
    buffer = EventBuffer(bus, capacity=5, retry_s=0.01)
    buffer.start()
    events = [event(i) for i in range(8)]
    for e in events:
        buffer.add(e)
    assert len(buffer) == 5 and buffer.dropped == 3
    assert metrics.EVENTS_DROPPED._value.get() - before == 3
    bus.connected = True
    await until(lambda: len(bus.stored) == 5)
    assert set(bus.stored) == {e.id for e in events[3:]}  # the newest five
    await buffer.stop()


async def test_failed_publishes_are_retried_with_the_same_ids():
    bus = FakeBus()
    bus.fail = True
    errors_before = metrics.PUBLISH_ERRORS._value.get()
    buffer = EventBuffer(bus, capacity=100, retry_s=0.01)
    buffer.start()
    events = [event(i) for i in range(4)]
    for e in events:
        buffer.add(e)
    await until(lambda: metrics.PUBLISH_ERRORS._value.get() - errors_before >= 2)
    bus.fail = False
    await until(lambda: len(bus.stored) == 4)
    await buffer.stop()
    assert set(bus.stored) == {e.id for e in events} and buffer.dropped == 0


async def test_what_cannot_be_flushed_at_stop_is_counted():
    bus = FakeBus()
    bus.connected = False
    buffer = EventBuffer(bus, capacity=10, retry_s=0.01)
    buffer.start()
    buffer.add(event(1))
    await buffer.stop(flush_timeout=0.05)
    assert buffer.dropped == 1
