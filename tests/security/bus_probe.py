"""A NATS connection as one identity that reports what the server refused (its permission errors)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nats
from nats.aio.client import Client

from infra.nats_auth import connect_options

ERROR_WAIT_S = 1.0  # permission errors come back asynchronously; on the loaded test host well within this


class Probe:
    """Connected as an identity (a seed file), with every -ERR the server sends kept in `errors`."""

    def __init__(self, nc: Client, errors: list[str]):
        self.nc, self.errors = nc, errors

    @classmethod
    async def open(cls, url: str, seed: Path | None) -> Probe:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        nc = await nats.connect(url, error_cb=on_error, allow_reconnect=False, max_reconnect_attempts=0,
                                **(connect_options(seed) if seed else {}))
        return cls(nc, errors)

    async def close(self) -> None:
        await self.nc.close()

    async def _refusal(self, before: int, subject: str, kind: str = "publish") -> str | None:
        """The permission error about `subject` that arrived since `before`, if any."""
        deadline = asyncio.get_running_loop().time() + ERROR_WAIT_S
        while True:
            found = [e for e in self.errors[before:] if "permissions violation" in e.lower()
                     and kind in e.lower() and subject.lower() in e.lower()]
            if found:
                return found[0].removeprefix("nats: ")
            if asyncio.get_running_loop().time() > deadline:
                return None
            await asyncio.sleep(0.02)

    async def publish(self, subject: str, payload: bytes = b"{}", headers: dict | None = None) -> str | None:
        """Publish; the server's refusal, or None when it took the message."""
        before = len(self.errors)
        await self.nc.publish(subject, payload, headers=headers)
        await self.nc.flush()
        return await self._refusal(before, subject)

    async def publish_all(self, subjects: list[str]) -> dict[str, str | None]:
        """Publish to each subject at once, then collect: subject -> refusal (None when taken)."""
        before = len(self.errors)
        for subject in subjects:
            await self.nc.publish(subject, b"{}")
        await self.nc.flush()
        await asyncio.sleep(ERROR_WAIT_S)
        refused = " ".join(e.lower() for e in self.errors[before:])
        return {s: (f'permissions violation for publish to "{s}"' if f'"{s.lower()}"' in refused else None)
                for s in subjects}

    async def api(self, subject: str, body: dict | None = None) -> str:
        """A JetStream API request: the server's permission refusal, or the API's own answer (an error or not)."""
        before = len(self.errors)
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, max_msgs=1)
        try:
            await self.nc.publish(subject, json.dumps(body or {}).encode(), reply=inbox)
            await self.nc.flush()
            refusal = await self._refusal(before, subject)
            if refusal:
                return refusal
            msg = await sub.next_msg(timeout=5)
            return msg.data.decode()
        finally:
            try:
                await sub.unsubscribe()
            except Exception:  # already gone after its one message
                pass

    async def subscribe(self, subject: str) -> str | None:
        """Subscribe; the server's refusal, or None when it allowed it."""
        before = len(self.errors)
        sub = await self.nc.subscribe(subject)
        await self.nc.flush()
        refusal = await self._refusal(before, subject, kind="subscription")
        if refusal is None:
            await sub.unsubscribe()
        return refusal
