"""Challengers scored in the shadow: after the champion answered, each challenger scores the same records off the
response path and its answers go out as driftline.prediction.shadowed, for the monitor's paired test.

The caller never waits: serving hands the records over with `offer` (a deque append) and returns. One task drains
the queue and calls the challengers in a thread, so a slow challenger (or one that blocks) holds up only itself.
The cost is bounded twice: after a call of t seconds the task rests t (1/share - 1), so the shadow spends at most
`shadow_cpu_share` of a core; what arrives meanwhile waits in a queue of `shadow_queue` records, and records beyond
it are dropped and counted (driftline_shadow_dropped_total{reason="over_budget"}). A shadow is evidence, not a
duty: a dropped request is one pair fewer for the test, nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import orjson

from inference import metrics
from inference.model_holder import Prediction, predict_batch, warm_up
from infra.bus import Bus
from infra.models import LoadedModel, challenger_versions, load_version
from infra.settings import Settings
from schemas import PredictionShadowed, derived_id, new_id

SHADOWED_TYPE = PredictionShadowed.type_name()
CHUNK = 256  # records per challenger call: bounds one call's time (and so the rest after it)
# After waking, gather for this long: each round costs a thread hop and a publish round whatever its size, so at one
# connection a round per request cost ~240 us of CPU a request (bench_http.py --shadow-only, 166 req/s); the shadow's
# answers wait for labels anyway.
LINGER_S = 0.05
log = logging.getLogger(__name__)

# One request for the shadow: (request id, record, correlation id or None, id of the bus request or None).
Row = tuple[str, dict, str | None, str | None]


class ShadowEvent:
    """A prediction.shadowed in wire form (what Bus.publish_many needs)."""

    __slots__ = ("id", "payload")
    topic = PredictionShadowed.topic
    type = SHADOWED_TYPE

    def __init__(self, event_id: str, payload: bytes):
        self.id, self.payload = event_id, payload

    def to_bytes(self) -> bytes:
        return self.payload


def shadow_event(row: Row, *, source: str, alias: str, model: LoadedModel, champion_version: str,
                 prediction: Prediction, channel: str) -> ShadowEvent:
    """A challenger's answer to one request; from a bus request its id is derived (a redelivery repeats it)."""
    request_id, _, correlation_id, cause_id = row
    event_id = derived_id(cause_id, SHADOWED_TYPE, alias) if cause_id else new_id()
    return ShadowEvent(event_id, orjson.dumps({
        "specversion": "1.0", "id": event_id, "type": SHADOWED_TYPE, "source": source, "time": datetime.now(UTC),
        "subject": model.name, "correlationid": correlation_id or event_id,
        **({"causationid": cause_id} if cause_id else {}),
        "data": {"request_id": request_id, "model": model.name, "champion_version": champion_version,
                 "challenger_version": model.version, "alias": alias, "predicted_class": prediction.predicted_class,
                 "probabilities": prediction.probabilities, "channel": channel}}))


class ShadowScorer:
    """The challengers one serving process scores, their queue, and the task that scores and publishes."""

    def __init__(self, settings: Settings, bus: Bus, source: str, *,
                 resolver: Callable[[Settings], dict[str, str]] = challenger_versions,
                 loader: Callable[[Settings, str], LoadedModel] = load_version):
        self.settings, self.bus, self.source = settings, bus, source
        self.capacity, self.share = settings.shadow_queue, settings.shadow_cpu_share
        self._resolver, self._loader = resolver, loader
        self.models: dict[str, LoadedModel] = {}  # alias -> challenger
        self._queue: deque[tuple[str, str, Sequence[Row]]] = deque()
        self.queued = self.dropped = self.scored = 0
        self._wake = asyncio.Event()
        self._refresh = asyncio.Event()

    def offer(self, channel: str, champion_version: str, rows: Sequence[Row]) -> None:
        """The serving path's hand-over: never waits; beyond the queue's bound the rows are dropped and counted."""
        if not self.models or not rows:
            return
        if self.queued + len(rows) > self.capacity:
            self.dropped += len(rows)
            metrics.child(metrics.SHADOW_DROPPED, "over_budget").inc(len(rows))
            return
        self._queue.append((channel, champion_version, rows))
        self.queued += len(rows)
        self._wake.set()

    def following(self, follow: Callable) -> Callable:
        """Wrap a champion follower's callback: when the champion may have moved, look the challengers up too."""
        async def changed(version, cause):
            try:
                return await follow(version, cause)
            finally:
                if cause is not None:
                    self.refresh_soon()
        return changed

    def refresh_soon(self) -> None:
        """Look the challenger aliases up now (the champion moved, so the set of challengers may have too)."""
        self._refresh.set()

    async def refresh(self) -> None:
        """Load challengers that appeared or moved; forget those gone (or now champion)."""
        wanted = await asyncio.to_thread(self._resolver, self.settings) if self.settings.shadow_enabled else {}
        models = {alias: m for alias, m in self.models.items() if wanted.get(alias) == m.version}
        for alias, version in wanted.items():
            if alias in models:
                continue
            try:
                model = await asyncio.to_thread(self._loader, self.settings, version)
                await asyncio.to_thread(warm_up, model)
            except Exception:
                log.exception("shadow: could not load %s (version %s); it is not scored", alias, version)
                continue
            models[alias] = model
            log.info("shadow: scoring %s version %s beside the champion", alias, version)
        for alias in set(self.models) - set(models):
            log.info("shadow: %s version %s no longer scored", alias, self.models[alias].version)
        self.models = models
        metrics.SHADOW_CHALLENGERS.set(len(models))

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the challengers current and score what is offered, until `stop`."""
        tasks = [asyncio.create_task(self._follow(stop)), asyncio.create_task(self._score(stop))]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as exc:  # the registry is briefly away: keep the challengers held
                log.warning("shadow: could not look the challengers up: %r", exc)
            try:
                await asyncio.wait_for(self._refresh.wait(), self.settings.shadow_poll_s)
            except TimeoutError:
                pass
            self._refresh.clear()

    def _take(self) -> list[tuple[str, str, Sequence[Row]]]:
        taken, size = [], 0
        while self._queue and size < CHUNK:
            item = self._queue.popleft()
            taken.append(item)
            size += len(item[2])
        self.queued -= size
        metrics.SHADOW_QUEUED.set(self.queued)
        return taken

    async def _score(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                await asyncio.sleep(LINGER_S)
            taken = self._take()
            started = time.perf_counter()
            events = []
            for alias, model in list(self.models.items()):
                for channel, champion, rows in _by_champion(taken):
                    if champion == model.version:
                        continue
                    try:
                        predictions = await asyncio.to_thread(predict_batch, model, [r[1] for r in rows])
                    except Exception as exc:  # e.g. a record the challenger cannot take: its pairs are missing
                        metrics.child(metrics.SHADOW_DROPPED, "call_failed").inc(len(rows))
                        log.warning("shadow: %s version %s failed on %d records: %r", alias, model.version,
                                    len(rows), exc)
                        continue
                    events += [shadow_event(row, source=self.source, alias=alias, model=model,
                                            champion_version=champion, prediction=p, channel=channel)
                               for row, p in zip(rows, predictions, strict=True)]
                    metrics.child(metrics.SHADOW_SCORED, alias, model.version).inc(len(rows))
            busy = time.perf_counter() - started
            if events:
                try:
                    await self.bus.publish_many(events)
                    self.scored += len(events)
                except Exception as exc:
                    metrics.child(metrics.SHADOW_DROPPED, "publish_failed").inc(len(events))
                    log.warning("shadow: could not publish %d shadow predictions: %r", len(events), exc)
            await asyncio.sleep(busy * (1 / self.share - 1))


def _by_champion(taken):
    """Offers grouped by (channel, champion version), so one challenger call covers each group."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for channel, champion, rows in taken:
        groups.setdefault((channel, champion), []).extend(rows)
    return [(channel, champion, rows) for (channel, champion), rows in groups.items()]
