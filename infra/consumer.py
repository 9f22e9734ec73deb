"""The consumer runner: durable pull, batches, explicit acks, bounded redelivery, dead-lettering."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg

from infra import metrics, tracing
from infra.bus import MSG_ID, Bus
from infra.streams import ensure_consumer
from schemas import Event, InvalidEvent, parse_event
from schemas.streams import dlq_subject

log = logging.getLogger(__name__)


_UNTRACED = nullcontext()  # reusable: entering it does nothing


class Rejected(Exception):
    """The message can never succeed (unknown model, impossible request): dead-letter it."""


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer and how it is driven."""

    durable: str
    stream: str
    subjects: tuple[str, ...]
    batch: int = 100
    max_wait: float = 0.5
    max_deliver: int = 5
    ack_wait: float = 30.0
    backoff: tuple[float, ...] = (0.5, 2.0, 5.0, 15.0)
    max_ack_pending: int = 10_000
    deliver_new: bool = False
    expected: tuple[type[Event], ...] | None = None

    @classmethod
    def routed(cls, durable: str, stream: str, routes: Routes, **options) -> ConsumerSpec:
        """A spec whose subjects and expected types are those of its routing table."""
        return cls(durable, stream, routes.subjects, expected=routes.types, **options)


@dataclass
class Received:
    """One decoded message with what the handler may need of its envelope."""

    event: Event
    msg: Msg = field(repr=False)
    # The trace context the message came with (tracing on), when it is not already the batch span's parent: a
    # handler that takes messages one by one continues it (`span`).
    trace: object = field(default=None, repr=False)
    consumer: str = ""

    def span(self, operation: str = ""):
        """A span continuing this message's own trace, linked to the batch (no-op when the batch span is already
        its child, or tracing is off)."""
        if self.trace is None:
            return _UNTRACED
        return tracing.continued(f"{self.consumer} {operation or type(self.event).__name__}", self.trace,
                                 {"messaging.message.id": self.event.id})

    @property
    def stream_seq(self) -> int:
        return self.msg.metadata.sequence.stream

    @property
    def num_delivered(self) -> int:
        return self.msg.metadata.num_delivered

    @property
    def headers(self) -> dict[str, str]:
        return self.msg.headers or {}


BatchHandler = Callable[[list[Received]], Awaitable[None]]
RawBatchHandler = Callable[[list[Msg]], Awaitable[object]]
Handler = Callable[[Received], Awaitable[None]]


class Routes:
    """A consumer's handlers by event type, in one table: it dispatches each message, and names the subjects and
    types the consumer takes (so the durable's filter and the bus map are read from it, not kept beside it)."""

    def __init__(self, table: Mapping[type[Event], Handler]):
        self.table = dict(table)

    @property
    def types(self) -> tuple[type[Event], ...]:
        return tuple(self.table)

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(cls.topic for cls in self.table))

    async def __call__(self, batch: list[Received]) -> None:
        for item in batch:
            with item.span():
                await self.table[type(item.event)](item)

LAG_EVERY_S = 5.0
_FETCH_TIMEOUTS = (asyncio.TimeoutError, nats.errors.TimeoutError)
# Transient: a reconnect, or a 503/500 while a cluster re-elects the consumer's leader.
_UNAVAILABLE = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.ServerError,
)


class TwoStepPull:
    """A pull subscription whose fetch waits long for the first request (cheap when idle), then takes whatever else
    is already waiting. One fetch of a whole batch would hold the first request until the batch filled or the wait
    ran out; a short wait instead would keep an idle worker polling the server hundreds of times a second."""

    def __init__(self, sub, idle_wait: float):
        self._sub = sub
        self.idle_wait = idle_wait

    async def fetch(self, batch: int, timeout: float) -> list:
        msgs = await self._sub.fetch(1, timeout=self.idle_wait)
        # The first message says how many more wait; none (the usual case at low rates) means no second pull.
        if batch > 1 and msgs[0].metadata.num_pending:
            try:  # a no-wait pull first: returns at once with what is stored, else after `timeout`
                msgs += await self._sub.fetch(batch - 1, timeout=timeout)
            except (TimeoutError, nats.errors.Error):
                pass  # the first message is in hand: handle it
        return msgs

    def __getattr__(self, name):
        return getattr(self._sub, name)


async def dead_letter(bus: Bus, consumer: str, msg: Msg, reason: str) -> None:
    """Copy the raw bytes with the reason to driftline.dlq.<consumer>; the copy is deduplicated by origin."""
    meta = msg.metadata
    origin = f"{meta.stream}:{meta.sequence.stream}"
    headers = {
        MSG_ID: f"dlq:{consumer}:{origin}",
        "Driftline-Error": " ".join(reason.split())[:2000],
        "Driftline-Consumer": consumer,
        "Driftline-Origin-Subject": msg.subject,
        "Driftline-Origin": origin,
        "Driftline-Deliveries": str(meta.num_delivered),
    }
    traceparent = (msg.headers or {}).get(tracing.TRACEPARENT)
    if traceparent:  # a replay from the DLQ continues the trace it came in
        headers[tracing.TRACEPARENT] = traceparent
    await bus.publish_raw(dlq_subject(consumer), msg.data, headers)
    metrics.DEAD_LETTERED.labels(consumer).inc()
    log.warning("dead-lettered %s from %s: %s", origin, consumer, reason)


class ConsumerRunner:
    """Pulls batches from a durable consumer and drives a batch handler with explicit acks."""

    def __init__(self, bus: Bus, spec: ConsumerSpec, handler: BatchHandler):
        self.bus = bus
        self.spec = spec
        self.handler = handler
        self._sub = None

    async def setup(self) -> None:
        spec = self.spec
        await ensure_consumer(
            self.bus.js,
            stream=spec.stream,
            durable=spec.durable,
            subjects=spec.subjects,
            max_deliver=spec.max_deliver,
            ack_wait=spec.ack_wait,
            max_ack_pending=spec.max_ack_pending,
            deliver_new=spec.deliver_new,
        )
        self._sub = await self.bus.js.pull_subscribe_bind(spec.durable, stream=spec.stream)

    async def run(self, stop: asyncio.Event) -> None:
        """Pull and handle until `stop` is set; the batch in hand is finished first."""
        if self._sub is None:
            await self.setup()
        try:
            await self._loop(stop)
        finally:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception:  # connection already gone: nothing to release
                pass

    async def _loop(self, stop: asyncio.Event) -> None:
        last_lag = 0.0
        while not stop.is_set():
            if time.monotonic() - last_lag > LAG_EVERY_S:
                last_lag = time.monotonic()
                await self._report_lag()
            try:
                msgs = await self._sub.fetch(self.spec.batch, timeout=self.spec.max_wait)
            except _FETCH_TIMEOUTS:
                continue
            except _UNAVAILABLE as exc:
                log.warning("%s: bus unavailable (%r); retrying", self.spec.durable, exc)
                await asyncio.sleep(0.5)
                continue
            try:
                await self.handle_batch(msgs)
            except _UNAVAILABLE + _FETCH_TIMEOUTS as exc:
                # The bus went away while acking or dead-lettering: what was not acked is redelivered.
                log.warning("%s: bus lost mid-batch (%r); unacked messages will be redelivered", self.spec.durable, exc)
                await asyncio.sleep(0.5)

    async def _report_lag(self) -> None:
        """Consumer lag for Prometheus (and the alert rule on it); a failed look-up waits for the next round."""
        try:
            pending, ack_pending = await self.pending()
        except Exception:
            return
        metrics.LAG.labels(self.spec.durable).set(pending)
        metrics.ACK_PENDING.labels(self.spec.durable).set(ack_pending)

    async def pending(self) -> tuple[int, int]:
        """(messages not yet delivered, deliveries not yet acknowledged) for this consumer."""
        info = await self.bus.js.consumer_info(self.spec.stream, self.spec.durable)
        return info.num_pending, info.num_ack_pending

    async def handle_batch(self, msgs: Sequence[Msg]) -> None:
        """Handle one fetched batch, in a span that continues the messages' traces (tracing on). An empty fetch
        (the audit projector's pull can return none) is no hop of any trace: no span (seen as one-span traces of
        `audit-projector process` with 0 messages, every half second, in the e2e dashboard run's logs)."""
        if not tracing.ENABLED or not msgs:
            await self._handle(msgs, None)
            return
        contexts = [tracing.extract(msg.headers) for msg in msgs]
        with tracing.batch_span(f"{self.spec.durable} process", contexts,
                                {"messaging.consumer.group.name": self.spec.durable,
                                 "messaging.destination.name": msgs[0].subject if msgs else ""}) as parent:
            await self._handle(msgs, contexts if parent is None else None)

    async def _handle(self, msgs: Sequence[Msg], contexts: Sequence | None) -> None:
        good: list[Received] = []
        for i, msg in enumerate(msgs):
            try:
                good.append(Received(parse_event(msg.data, self.spec.expected), msg,
                                     contexts[i] if contexts else None, self.spec.durable))
            except InvalidEvent as exc:
                await dead_letter(self.bus, self.spec.durable, msg, str(exc))
                await msg.term()
        if not good:
            return
        try:
            await self.handler(good)
        except Exception as exc:
            if len(good) == 1:
                await self._fail(good[0], exc)
                return
            # Isolate the failing message(s): retry each on its own; handlers are idempotent.
            log.info("%s: batch of %d failed (%s); retrying one by one", self.spec.durable, len(good), exc)
            for item in good:
                try:
                    await self.handler([item])
                except Exception as one_exc:
                    await self._fail(item, one_exc)
                else:
                    await item.msg.ack()
            return
        for item in good:
            await item.msg.ack()
        metrics.PROCESSED.labels(self.spec.durable).inc(len(good))

    async def _fail(self, item: Received, exc: Exception) -> None:
        name = self.spec.durable
        if isinstance(exc, Rejected):
            await dead_letter(self.bus, name, item.msg, f"rejected: {exc}")
            await item.msg.term()
            return
        deliveries = item.num_delivered
        if deliveries >= self.spec.max_deliver:
            await dead_letter(self.bus, name, item.msg, f"gave up after {deliveries} deliveries: {exc!r}")
            await item.msg.term()
            return
        delay = self.spec.backoff[min(deliveries - 1, len(self.spec.backoff) - 1)]
        log.warning("%s: %s failed (delivery %d), retry in %.1fs: %r", name, item.event.id, deliveries, delay, exc)
        metrics.RETRIED.labels(name).inc()
        await item.msg.nak(delay=delay)


class RawBatchRunner(ConsumerRunner):
    """The runner for a consumer that must see every stored message undecoded and settle each itself (the audit
    projector: it chains even unreadable bytes and naks what comes ahead of a gap). The handler acks or naks;
    if it raises, the whole batch is nak'ed with the spec's backoff. Nothing is parsed, so nothing is
    dead-lettered: give such a spec max_deliver=-1. The pull loop, leader changes and lag are the runner's."""

    def __init__(self, bus: Bus, spec: ConsumerSpec, handler: RawBatchHandler):
        super().__init__(bus, spec, handler)

    async def _handle(self, msgs: Sequence[Msg], contexts: Sequence | None) -> None:
        try:
            await self.handler(list(msgs))
        except _UNAVAILABLE + _FETCH_TIMEOUTS:
            raise  # the loop waits for the bus; what was not settled is redelivered
        except Exception as exc:
            deliveries = max(msg.metadata.num_delivered for msg in msgs)
            delay = self.spec.backoff[min(deliveries - 1, len(self.spec.backoff) - 1)]
            log.warning("%s: batch of %d failed (delivery %d), retry in %.1fs: %r", self.spec.durable, len(msgs),
                        deliveries, delay, exc)
            metrics.RETRIED.labels(self.spec.durable).inc(len(msgs))
            for msg in msgs:
                await msg.nak(delay=delay)
