"""Following the runtime configuration: each process of a service that owns runtime keys (monitor, worker, gateway)
applies driftline.config.changed as it happens, and at start the last such event, so a restart keeps the changes.

Like the champion follower, the events come on a plain NATS subscription (a follower needs no JetStream consumer);
the last one at start is read by a direct get of the stream's last message on the subject (STREAM.MSG.GET where the
stream does not allow direct gets). Versions apply in order: an event at or below the held version is skipped. A
version whose share for this service fails the contract (schemas/config.py) is refused whole and logged; the
executor checked it before announcing, so that means a foreign or corrupted event.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Gauge

from infra.bus import Bus
from schemas import ConfigChanged, InvalidEvent, parse_event
from schemas.config import CHANGED, ConfigRefused, checked, owned
from schemas.streams import AUDIT

log = logging.getLogger(__name__)

SUBJECT = CHANGED
FOLLOWED = (ConfigChanged,)
APPLIED = Counter("driftline_config_applied_total", "Runtime configuration versions a process applied.", ["service"])
REFUSED = Counter("driftline_config_refused_total", "Runtime configuration versions a process refused.", ["service"])
VERSION = Gauge("driftline_config_version", "The runtime configuration version a process runs with (0: none).",
                ["service"])
# The owned keys at their new values; may be a coroutine function. It must apply all of them or raise.
Apply = Callable[[dict[str, Any]], Awaitable[object] | object]


class ConfigFollower:
    """One per process: `start()` subscribes and applies the last version; `run(stop)` follows new ones."""

    def __init__(self, bus: Bus, service: str, apply: Apply):
        self.bus, self.service, self.apply = bus, service, apply
        self.version = 0
        self._sub = None
        VERSION.labels(service).set(0)

    async def start(self) -> None:
        """Listen first (a change meanwhile is not missed), then apply the stream's last change, if any."""
        if self._sub is None:
            self._sub = await self.bus.nc.subscribe(SUBJECT)
        raw = await self._last()
        if raw is not None:
            await self._on_data(raw, "the last configuration")

    async def _last(self) -> bytes | None:
        try:
            direct = bool((await self.bus.js.stream_info(AUDIT.name)).config.allow_direct)
            return (await self.bus.js.get_last_msg(AUDIT.name, SUBJECT, direct=direct)).data
        except NotFoundError:
            return None
        except Exception as exc:  # the bus is briefly away: the settings hold until the next change
            log.warning("%s: could not read the last configuration (%r); starting from settings", self.service, exc)
            return None

    async def run(self, stop: asyncio.Event) -> None:
        """Follow until `stop` is set."""
        if self._sub is None:
            await self.start()
        try:
            while not stop.is_set():
                try:  # wake at least every second to see `stop`
                    msg = await self._sub.next_msg(timeout=1.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError):
                    await asyncio.sleep(0.5)
                    continue
                await self._on_data(msg.data, msg.subject)
        finally:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception:  # connection already gone
                pass

    async def _on_data(self, raw: bytes, where: str) -> None:
        try:
            event = parse_event(raw, FOLLOWED)
        except InvalidEvent as exc:
            log.warning("%s: ignoring an unreadable configuration event on %s: %s", self.service, where, exc)
            return
        await self.follow(event)

    async def follow(self, event: ConfigChanged) -> bool:
        """Apply one version's share for this service; True if it was applied."""
        d = event.data
        if d.version <= self.version:
            return False
        mine = owned(self.service, d.config)
        try:
            values = checked(mine) if mine else {}
            if values:
                done = self.apply(values)
                if inspect.isawaitable(done):
                    await done
        except (ConfigRefused, ValueError) as exc:
            REFUSED.labels(self.service).inc()
            log.error("%s: refused configuration version %d (kept version %d): %s", self.service, d.version,
                      self.version, exc)
            return False
        self.version = d.version
        VERSION.labels(self.service).set(d.version)
        APPLIED.labels(self.service).inc()
        changed = [c for c in d.changes if c.owner == self.service]
        words = ", ".join(f"{c.key} {c.old} -> {c.new}" for c in changed) or "none of its keys changed"
        log.info("%s: applied configuration version %d (approved by %s): %s", self.service, d.version,
                 d.approved_by, words)
        return True
