"""The monitor's one place where shadow challengers are judged: prediction.shadowed stored, labels paired with
them, the tests advanced, decisions (model.shadow_decided) returned for publishing, and a save step for the
transaction that also saves the monitor's stream position."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from consumers.monitor import shadow_store
from consumers.monitor.shadow_pairs import advance, pair_up
from schemas import Event, LabelReceived, PredictionShadowed

Save = Callable[[asyncpg.Connection], Awaitable[None]]


async def _nothing(conn: asyncpg.Connection) -> None:
    return None


@dataclass
class Step:
    decisions: list[Event] = field(default_factory=list)
    save: Save = _nothing
    points: list = field(default_factory=list)


class ShadowJudge:
    def __init__(self, pool: asyncpg.Pool, alpha: float, budget: int):
        self.pool, self.alpha, self.budget = pool, alpha, budget

    async def step(self, model: str, shadows: Sequence[PredictionShadowed], labels: Sequence[LabelReceived],
                   joined: dict[str, tuple]) -> Step:
        """This batch's shadow answers and labels (`joined`: request id -> (class, score, serving version) of the
        champion's prediction) -> decisions and what to save. Nothing is written but the waiting answers."""
        async with self.pool.acquire() as conn:
            await shadow_store.remember(conn, model, shadows)
            if not labels or not joined:
                return Step()
            waiting = await shadow_store.waiting(conn, model, list(joined))
            if not waiting:
                return Step()
            found = pair_up(labels, {rid: (j[0], j[2]) for rid, j in joined.items()}, waiting)
            tests = await shadow_store.tests(conn, model, found)
        decisions, points = advance(tests, found, model, self.alpha, self.budget)
        changed = {key: tests[key] for key, _ in points}
        used = list(waiting)

        async def save(conn: asyncpg.Connection) -> None:
            await shadow_store.save(conn, model, changed, points, used)

        return Step(decisions, save, points)
