"""The bus every service uses: a NATS connection, JetStream, and idempotent publishing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import PubAck

from infra import tracing
from infra.nats_auth import connect_options
from schemas import Event

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"
# The NATS binding of CloudEvents (1.0.3 draft) tells structured mode (the whole JSON event in the payload, which is
# what we send) from binary mode (attributes in ce-* headers) by this header; without it, a receiver following the
# draft would take our messages for binary mode.
CONTENT_TYPE = "Content-Type"
STRUCTURED_JSON = "application/cloudevents+json"
TYPE_HEADER = "Driftline-Type"
REPLY_HEADER = "Driftline-Reply-To"
ONE_SHOT_ATTEMPTS = 1  # reconnects after the first try: a one-shot command makes 2 attempts per server


def event_headers(event: Event, extra: dict[str, str] | None = None, trace: dict[str, str] | None = None
                  ) -> dict[str, str]:
    """Headers of a published event: its id as Nats-Msg-Id so JetStream drops a repeated publish; with tracing on,
    the trace context the event was made in (its own, e.g. an HTTP request's, else `trace`: the span in hand).
    `extra` comes last: a caller's own header wins."""
    headers = {MSG_ID: event.id, TYPE_HEADER: event.type, CONTENT_TYPE: STRUCTURED_JSON}
    if tracing.ENABLED:
        headers.update(getattr(event, "trace", None) or trace or {})
    if extra:
        headers.update(extra)
    return headers


def stored_event_headers(event_id: str, event_type: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The same headers for an event held as bytes (the outbox): id, type, and the structured-mode content type."""
    headers = {MSG_ID: event_id, TYPE_HEADER: event_type, CONTENT_TYPE: STRUCTURED_JSON}
    if extra:
        headers.update(extra)
    return headers


def _traced(headers: dict[str, str], ambient: dict[str, str]) -> dict[str, str]:
    if not ambient or tracing.TRACEPARENT in headers:
        return headers
    return {**headers, **ambient}


def _servers(url: str | list[str]) -> list[str]:
    """Seed URLs: a list, or a comma-separated DRIFTLINE_NATS_URL naming several nodes of a cluster."""
    urls = url if isinstance(url, list) else url.split(",")
    return [u.strip() for u in urls if u.strip()]


class Bus:
    """A connected NATS client with JetStream, publishing typed events."""

    def __init__(self, nc: NATS, js: JetStreamContext, publish_timeout: float = 10.0):
        self.nc = nc
        self.js = js
        self.publish_timeout = publish_timeout

    @classmethod
    async def connect(cls, url: str | list[str], name: str = "driftline", *, one_shot: bool = False,
                      credential: Path | None = None, **options) -> Bus:
        """Connect to NATS with JetStream, signed in with the nkey seed in `credential` (infra.nats_auth).

        A service keeps trying forever, the first connect included: it outlives a NATS restart. A one-shot command
        (`one_shot`) gives up after 1 + ONE_SHOT_ATTEMPTS tries per server (a quarter second when nothing listens) so it
        can say so and exit; the same bound holds for a reconnect while it runs.
        """
        async def _error(exc: Exception) -> None:
            log.log(logging.DEBUG if one_shot else logging.WARNING, "nats error: %s", exc)

        options.setdefault("ping_interval", 10)  # notice a frozen server in ~30 s, not nats-py's 4 minutes
        options.setdefault("max_outstanding_pings", 3)
        options.setdefault("max_reconnect_attempts", ONE_SHOT_ATTEMPTS if one_shot else -1)
        options.setdefault("reconnect_time_wait", 0.25 if one_shot else 0.5)
        if one_shot:
            options.setdefault("connect_timeout", 1.0)  # per attempt: a silent (hung, firewalled) host costs 2.25 s
        if credential:
            options.update(connect_options(credential))
        nc = await nats.connect(servers=_servers(url), name=name, error_cb=_error, **options)
        # A deep pipeline: publish_async keeps up to this many publishes awaiting their ack.
        return cls(nc, nc.jetstream(timeout=10, publish_async_max_pending=20_000))

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    async def publish(self, event: Event, *, subject: str | None = None, headers: dict | None = None) -> PubAck:
        """Publish one event and wait until JetStream has stored it."""
        return await self.js.publish(
            subject or event.topic,
            event.to_bytes(),
            timeout=self.publish_timeout,
            headers=event_headers(event, headers, tracing.current_headers()),
        )

    async def publish_many(self, events: Iterable[Event], *, headers: dict | None = None,
                           attempts: int = 1) -> list[PubAck]:
        """Publish many events pipelined (all sent, then all acks awaited); raises if any was not stored.

        `attempts` > 1: acks that do not come within the publish timeout (a saturated server) send the whole batch
        again, up to that many times in all; the event ids (Nats-Msg-Id) make JetStream store each once, provided
        the tries end within the streams' duplicate window."""
        events = list(events)
        ambient = tracing.current_headers()
        for attempt in range(1, attempts + 1):
            futures = [
                await self.js.publish_async(ev.topic, ev.to_bytes(), headers=event_headers(ev, headers, ambient))
                for ev in events
            ]
            if not futures:
                return []
            try:
                done = await asyncio.wait_for(asyncio.gather(*futures), timeout=self.publish_timeout)
                return list(done)
            except TimeoutError:
                if attempt == attempts:
                    raise
                log.warning("no acknowledgement for %d events within %g s; sending them again (%d of %d)",
                            len(events), self.publish_timeout, attempt + 1, attempts)
        raise AssertionError("unreachable")

    async def publish_raw_many(self, messages: Iterable[tuple[str, bytes, dict[str, str]]]) -> list[PubAck]:
        """Publish (subject, payload, headers) messages pipelined and in order; raises if any was not stored.
        A message whose headers hold no trace context gets the span in hand's (the outbox relay's rows bring their
        own: the context of the change that wrote them)."""
        ambient = tracing.current_headers()
        futures = [await self.js.publish_async(subject, payload, headers=_traced(headers, ambient))
                   for subject, payload, headers in messages]
        if not futures:
            return []
        return list(await asyncio.wait_for(asyncio.gather(*futures), timeout=self.publish_timeout))

    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> PubAck:
        return await self.js.publish(subject, payload, timeout=self.publish_timeout,
                                     headers=_traced(headers, tracing.current_headers()))

    async def close(self) -> None:
        if not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.drain(), timeout=5)
            except Exception:  # already closing, disconnected, or slow: close hard
                await self.nc.close()
