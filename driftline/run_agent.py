"""Wiring of the agent: diagnoser, approval gate and executor as three durable consumers in one process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent.diagnoser import DiagnoserHandler
from agent.executor import Executor
from agent.expiry import expiry_loop
from agent.gate_handler import GateHandler
from agent.gate_state import rebuild_from_audit
from agent.policy import PolicyError, load_policy
from driftline.common import database_dsn
from infra.bus import Bus
from infra.consumer import ConsumerRunner, ConsumerSpec
from infra.db import connect_pool
from infra.settings import Settings
from infra.streams import ensure_streams
from schemas import (
    ActionCompleted,
    ActionEscalated,
    ActionScheduled,
    AlertCleared,
    AlertRaised,
    ApprovalDecided,
    DiagnosisMade,
)
from schemas.streams import AUDIT

log = logging.getLogger(__name__)


def specs(settings: Settings) -> dict[str, ConsumerSpec]:
    """The agent's three durable consumers on the AUDIT stream."""
    common: dict[str, Any] = dict(stream=AUDIT.name, max_deliver=settings.max_deliver, ack_wait=settings.ack_wait_s,
                                  backoff=tuple(settings.backoff_s))
    return {
        "diagnoser": ConsumerSpec("agent-diagnoser", subjects=(AlertRaised.topic, AlertCleared.topic,
                                  ActionCompleted.topic, ActionEscalated.topic), batch=50, **common),
        "gate": ConsumerSpec("agent-gate", subjects=(DiagnosisMade.topic, ApprovalDecided.topic), batch=50, **common),
        # One action at a time: the one in hand is kept alive with in-progress acks, the rest would wait unacked.
        "executor": ConsumerSpec("agent-executor", subjects=(ActionScheduled.topic,), batch=1, **common),
    }


def consumer_specs(settings: Settings) -> list[ConsumerSpec]:
    """What the bus map reads: the three durables above."""
    return list(specs(settings).values())


def default_train():
    """The trainer, imported only by the executor (DESIGN.md's one in-process call)."""
    from trainer.api import train_async

    return train_async


async def main(settings: Settings, stop: asyncio.Event, *, train=None) -> None:
    try:
        policy = load_policy(settings.agent_policy_file)
    except PolicyError as exc:  # refuse to start, saying what is wrong with the file
        log.error("%s", exc)
        raise SystemExit(f"agent not started: {exc}") from None
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-agent")
    pool = await connect_pool(await database_dsn(settings), max_size=6)
    try:
        await ensure_streams(bus.js, settings)
        async with pool.acquire() as conn:
            await rebuild_from_audit(conn, bus.js)
        consumers = specs(settings)
        runners = [
            ConsumerRunner(bus, consumers["diagnoser"], DiagnoserHandler(bus, pool, policy)),
            ConsumerRunner(bus, consumers["gate"], GateHandler(bus, pool, policy,
                                                               recommend_only=settings.agent_recommend_only)),
            ConsumerRunner(bus, consumers["executor"], Executor(bus, pool, settings, train=train or default_train())),
        ]
        mode = "recommend-only" if settings.agent_recommend_only else "acting"
        log.info("agent running (%s mode, storm window %s, approvals expire after %s)", mode, policy.storm_window,
                 policy.approval_ttl)
        await asyncio.gather(*(r.run(stop) for r in runners),
                             expiry_loop(pool, bus, stop, settings.agent_expiry_interval_s))
    finally:
        await pool.close()
        await bus.close()
