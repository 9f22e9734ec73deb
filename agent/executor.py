"""The executor: runs each scheduled action at most once by action id, reporting started/completed/failed."""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Callable
from typing import Any

import asyncpg
from prometheus_client import Counter

from agent import authorisation
from agent.actions import ACTIONS, Action, ActionContext, ActionResult
from agent.policy import Policy
from infra.bus import Bus
from infra.consumer import Received, Routes
from infra.keys import Verifier
from infra.settings import Settings
from schemas import ActionCompleted, ActionFailed, ActionScheduled, ActionStarted, Event, parse_event
from schemas.action import ActionError, ActionOutcome, ActionProgress

log = logging.getLogger(__name__)
REFUSED = Counter("driftline_executor_refused_total", "Schedules the executor refused to run (no matching approval, "
                  "a kind or parameters the policy does not allow).", ["kind"])


def outcome_events(ctx: ActionContext, result: ActionResult | None, error: str | None) -> list[Event]:
    """What a finished action publishes: its own events (e.g. ModelPromoted), then completed or failed."""
    a = ctx.action
    if error is not None:
        return [ctx.derived(ActionFailed, ActionError(action_id=a.action_id, kind=a.kind, model=a.model, error=error))]
    done = ctx.derived(ActionCompleted, ActionOutcome(
        action_id=a.action_id, kind=a.kind, model=a.model, result=result.result, summary=result.summary,
        metrics_before=result.metrics_before, metrics_after=result.metrics_after))
    return [*result.events, done]


def describe_error(exc: Exception) -> str:
    """The error in words, with the failed data checks when the trainer refused the data."""
    text = f"{type(exc).__name__}: {exc}"
    failures = getattr(exc, "failures", None) or []
    details = [f"{getattr(f, 'column', None) or 'data set'} failed {getattr(f, 'check', f)} "
               f"({getattr(f, 'failing_count', '?')} rows)" for f in failures[:5]]
    return text + (": " + "; ".join(details) if details else "")


class Executor:
    """Consumes ActionScheduled; a ledger row per action id makes every effect happen once."""

    def __init__(self, bus: Bus, pool: asyncpg.Pool, settings: Settings, policy: Policy, verifier: Verifier, *,
                 train: Callable[..., Any] | None = None, actions: dict[str, Action] | None = None,
                 heartbeat_s: float = 5.0):
        self.bus, self.pool, self.settings, self.train = bus, pool, settings, train
        self.policy, self.verifier = policy, verifier
        self.actions = actions or ACTIONS
        self.heartbeat_s = heartbeat_s
        self.routes = Routes({ActionScheduled: self.on_scheduled})

    async def on_scheduled(self, item: Received) -> None:
        beat = asyncio.create_task(_keep_in_progress(item, self.heartbeat_s))
        try:
            await self.execute(item.event)
        finally:
            beat.cancel()

    async def execute(self, scheduled: ActionScheduled) -> None:
        """ActionScheduled -> ActionStarted, the effect, then ActionCompleted or ActionFailed (once per action id)."""
        a = scheduled.data.action
        async with self.pool.acquire() as conn:
            error = await authorisation.refusal(conn, scheduled, self.policy, self.verifier)
        if error is None and a.kind not in self.actions:
            error = f"the executor has no implementation of {a.kind}"
        if error is not None:
            # Refused before the ledger: a forged schedule naming a real action's id must not use that action up.
            REFUSED.labels(a.kind).inc()
            log.warning("refused to run %s (%s): %s", a.action_id, a.kind, error)
            await self.bus.publish(scheduled.caused(ActionFailed, source="agent/executor", key="refused", data=ActionError(
                action_id=a.action_id, kind=a.kind, model=a.model, error=f"refused: {error}")))
            return
        # A session lock on its own connection: a second executor given the same action waits, then finds it
        # done; a crashed executor's lock dies with its connection.
        async with self.pool.acquire() as lock_conn:
            await lock_conn.execute("SELECT pg_advisory_lock($1, $2)", 40, _key(a.action_id))
            try:
                await self._execute_locked(scheduled)
            finally:
                await lock_conn.execute("SELECT pg_advisory_unlock($1, $2)", 40, _key(a.action_id))

    async def _execute_locked(self, scheduled: ActionScheduled) -> None:
        a = scheduled.data.action
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT status, attempts, outcome FROM agent_actions WHERE action_id = $1 "
                                      "FOR UPDATE", a.action_id)
            if row is not None and row["status"] != "started":  # done before: re-publish, never re-run
                log.info("action %s already %s; not executing again", a.action_id, row["status"])
                finished = [parse_event(json.dumps(e)) for e in json.loads(row["outcome"])]
                await self.bus.publish_many(finished)
                return
            attempt = 1 if row is None else row["attempts"] + 1
            await conn.execute(
                "INSERT INTO agent_actions (action_id, kind, model, status, scheduled_id) VALUES ($1, $2, $3, "
                "'started', $4) ON CONFLICT (action_id) DO UPDATE SET attempts = agent_actions.attempts + 1",
                a.action_id, a.kind, a.model, scheduled.id)
        ctx = ActionContext(self.settings, self.pool, self.bus, scheduled, attempt=attempt, train=self.train,
                            promotion=self.policy.promotion)
        await self.bus.publish(ctx.derived(ActionStarted, ActionProgress(action_id=a.action_id, kind=a.kind,
                                                                         model=a.model)))
        result, error = None, None
        try:
            result = await self.actions[a.kind](ctx)
        except Exception as exc:
            log.exception("action %s (%s) failed", a.action_id, a.kind)
            error = describe_error(exc)
        events = outcome_events(ctx, result, error)
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE agent_actions SET status = $2, outcome = $3::jsonb, finished_at = now() WHERE action_id = $1",
                a.action_id, "failed" if error else "completed",
                json.dumps([json.loads(e.model_dump_json()) for e in events]))
        await self.bus.publish_many(events)
        log.info("action %s (%s) %s", a.action_id, a.kind, "failed: " + error if error else "completed")


async def _keep_in_progress(item: Received, every: float) -> None:
    """Tell JetStream a long action is still running, so it is not redelivered meanwhile."""
    while True:
        await asyncio.sleep(every)
        try:
            await item.msg.in_progress()
        except Exception:  # connection trouble: the redelivery that may follow finds the ledger row
            pass


def _key(action_id: str) -> int:
    return zlib.crc32(action_id.encode()) - 2**31
