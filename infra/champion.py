"""Following the champion: every serving process (gateway, worker, monitor) reacts to driftline.model.promoted and
.rolled_back as they happen, and polls the registry alias as the safety net for an event it missed.

The events come on a plain NATS subscription, not a JetStream consumer: a follower only ever wanted the events
published from now on, and a right to make consumers on AUDIT would also be a right to re-configure the projector's
and the executor's (issue 15). An event published while the process is disconnected is caught by the poll."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import nats.errors

from infra.bus import Bus
from schemas import Event, InvalidEvent, ModelPromoted, ModelReloadRequested, ModelRolledBack, parse_event

log = logging.getLogger(__name__)

FOLLOWED = (ModelPromoted, ModelRolledBack, ModelReloadRequested)
SUBJECT = "driftline.model.>"  # one subscription over the family; other model events are skipped
# (version the event names, or None for "ask the registry"; the event, or None when the poll asks)
Changed = Callable[[str | None, Event | None], Awaitable[object]]


def version_to_serve(event: Event, model_name: str) -> str | None:
    """The version a model event says is champion now, or None when it asks for no change."""
    if isinstance(event, ModelPromoted) and event.data.promoted and event.data.model == model_name:
        return event.data.version
    if isinstance(event, ModelRolledBack) and event.data.model == model_name:
        return event.data.to_version
    if isinstance(event, ModelReloadRequested) and event.data.model == model_name:
        return event.data.version or ""  # "": the alias decides; the callback reloads even the same version
    return None


def forced(event: Event | None) -> bool:
    """A reload request: load again even if the version is the one already held (its files may have changed)."""
    return isinstance(event, ModelReloadRequested)


class ChampionFollower:
    """Each process has its own subscription to the model events, so every replica follows; a poll every `poll_s`
    calls `changed(None, None)`: look the alias up. A failing callback is logged, never fatal."""

    def __init__(self, bus: Bus, model_name: str, changed: Changed, poll_s: float = 30.0):
        self.bus, self.model_name, self.changed, self.poll_s = bus, model_name, changed, poll_s
        self._sub = None

    async def subscribe(self) -> None:
        """Start listening before serving, so a promotion during start-up is not missed."""
        if self._sub is None:
            self._sub = await self.bus.nc.subscribe(SUBJECT)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow until `stop` is set."""
        await self.subscribe()
        next_poll = time.monotonic() + self.poll_s
        try:
            while not stop.is_set():
                try:  # wake at least every second to see `stop`
                    msg = await self._sub.next_msg(timeout=max(0.01, min(1.0, next_poll - time.monotonic())))
                except (TimeoutError, nats.errors.TimeoutError):
                    msg = None
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError) as exc:
                    log.warning("champion follower: bus unavailable (%r); the alias poll goes on", exc)
                    msg = None
                    await asyncio.sleep(0.5)
                if msg is not None:
                    await self._on_message(msg)
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + self.poll_s
                    await self._call(None, None, "the champion alias")
        finally:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception:  # connection already gone
                pass

    async def _on_message(self, msg) -> None:
        if not msg.subject.startswith(tuple(cls.topic for cls in FOLLOWED)):
            return
        try:
            event = parse_event(msg.data, FOLLOWED)
        except InvalidEvent as exc:
            log.warning("ignoring an unreadable model event on %s: %s", msg.subject, exc)
            return
        version = version_to_serve(event, self.model_name)
        if version is not None:
            await self._call(version, event, f"{event.type} {event.id}")

    async def _call(self, version: str | None, event: Event | None, what: str) -> None:
        try:
            await self.changed(version, event)
        except Exception as exc:  # registry briefly unreachable: keep serving the current champion
            log.warning("could not follow %s: %r", what, exc)
