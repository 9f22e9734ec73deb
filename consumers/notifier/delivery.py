"""Bounded retries with backoff: a delivery either succeeds or reports why it gave up; it never raises."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from consumers.notifier import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempted:
    ok: bool
    attempts: int
    error: str = ""


async def with_retries(
    channel: str,
    send: Callable[[], Awaitable[None]],
    attempts: int,
    backoff: Sequence[float],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Attempted:
    """Call `send` up to `attempts` times, waiting backoff[i] (the last one repeated) between tries."""
    error = ""
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        metrics.NOTIFY_ATTEMPTS.labels(channel).inc()
        try:
            await send()
            return Attempted(True, attempt)
        except Exception as exc:  # any failure of the far end is retried, then recorded
            error = f"{type(exc).__name__}: {exc}"
            log.warning("%s delivery attempt %d/%d failed: %s", channel, attempt, attempts, error)
        if attempt < attempts and backoff:
            await sleep(backoff[min(attempt - 1, len(backoff) - 1)])
    return Attempted(False, attempts, error)
