"""Hot reload: every serving process follows driftline.model.promoted / .rolled_back, and polls the alias."""

from __future__ import annotations

import asyncio
import logging

from nats.js.api import DeliverPolicy

from inference.model_holder import ModelHolder
from infra.bus import Bus
from schemas import InvalidEvent, ModelPromoted, ModelRolledBack, parse_event
from schemas.model import PROMOTED, ROLLED_BACK
from schemas.streams import AUDIT

log = logging.getLogger(__name__)


def version_to_serve(event, model_name: str) -> str | None:
    """The version a model event says is champion now, or None when it asks for no change."""
    if isinstance(event, ModelPromoted) and event.data.promoted and event.data.model == model_name:
        return event.data.version
    if isinstance(event, ModelRolledBack) and event.data.model == model_name:
        return event.data.to_version
    return None


class ModelReloader:
    """Each process has its own ordered consumer (deliver new) on the model events, so every replica reloads."""

    def __init__(self, bus: Bus, holder: ModelHolder, poll_s: float = 30.0):
        self.bus = bus
        self.holder = holder
        self.poll_s = poll_s
        self._sub = None

    async def subscribe(self) -> None:
        """Start listening before serving, so a promotion during start-up is not missed."""
        if self._sub is None:
            self._sub = await self.bus.js.subscribe(
                "driftline.model.>", stream=AUDIT.name, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW)

    async def run(self, stop: asyncio.Event) -> None:
        await self.subscribe()
        tasks = [asyncio.create_task(self._follow_events()), asyncio.create_task(self._poll(stop))]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await self._sub.unsubscribe()
            except Exception:  # connection already gone
                pass
            self._sub = None

    async def _follow_events(self) -> None:
        async for msg in self._sub.messages:
            if not (msg.subject.startswith(PROMOTED) or msg.subject.startswith(ROLLED_BACK)):
                continue
            try:
                event = parse_event(msg.data, (ModelPromoted, ModelRolledBack))
            except InvalidEvent as exc:
                log.warning("ignoring unreadable model event on %s: %s", msg.subject, exc)
                continue
            version = version_to_serve(event, self.holder.settings.model_name)
            if version is not None:
                await self.holder.load(version, f"{event.type} {event.id}")

    async def _poll(self, stop: asyncio.Event) -> None:
        """Safety net for a missed event: the alias in the registry is the truth."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass
            if stop.is_set():
                return
            try:
                await self.holder.load_alias()
            except Exception as exc:
                log.warning("could not check the champion alias: %r", exc)
