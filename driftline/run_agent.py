"""Wiring of the agent: diagnoser, approval gate and executor as three durable consumers in one process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent.approvals.keys import decision_verifier
from agent.approvals.rebuild import rebuild_from_audit
from agent.diagnoser import DiagnoserHandler
from agent.executor import Executor
from agent.expiry import expiry_loop
from agent.gate_handler import GateHandler
from agent.policy import PolicyError, load_policy
from driftline.common import database_dsn
from infra.bus import Bus
from infra.consumer import ConsumerRunner, ConsumerSpec, Routes
from infra.db import connect_pool
from infra.nats_auth import credential_for
from infra.outbox import OutboxRelay
from infra.settings import Settings
from infra.streams import require_streams
from schemas.streams import AUDIT

log = logging.getLogger(__name__)


def specs(settings: Settings, routes: dict[str, Routes]) -> dict[str, ConsumerSpec]:
    """The agent's three durable consumers on the AUDIT stream, each filtered to its routing table's subjects."""
    common: dict[str, Any] = dict(max_deliver=settings.max_deliver, ack_wait=settings.ack_wait_s,
                                  backoff=tuple(settings.backoff_s))
    return {
        "diagnoser": ConsumerSpec.routed("agent-diagnoser", AUDIT.name, routes["diagnoser"], batch=50, **common),
        "gate": ConsumerSpec.routed("agent-gate", AUDIT.name, routes["gate"], batch=50, **common),
        # One action at a time: the one in hand is kept alive with in-progress acks, the rest would wait unacked.
        "executor": ConsumerSpec.routed("agent-executor", AUDIT.name, routes["executor"], batch=1, **common),
    }


def handlers(settings: Settings, policy, bus: Bus | None, pool, train, verifier=None) -> dict[str, Routes]:
    """The three handlers' routing tables, by consumer (`verifier`: the approvals owner's public key)."""
    return {"diagnoser": DiagnoserHandler(pool, policy).routes,
            "gate": GateHandler(pool, policy, recommend_only=settings.agent_recommend_only).routes,
            "executor": Executor(bus, pool, settings, policy, verifier, train=train).routes}


def consumer_specs(settings: Settings) -> list[ConsumerSpec]:
    """What the bus map reads: the three durables, filtered by the handlers' own tables (built without a bus)."""
    return list(specs(settings, handlers(settings, load_policy(settings.agent_policy_file), None, None, None))
                .values())


def default_train():
    """The trainer, imported only by the executor (DESIGN.md's one in-process call), and only at its first retrain:
    scikit-learn, the model families and MLflow's tracking add ~90 MB resident to an agent that may never retrain."""

    async def train_async(*args, **kwargs):
        from trainer.api import train_async as train

        return await train(*args, **kwargs)

    return train_async


async def main(settings: Settings, stop: asyncio.Event, *, train=None) -> None:
    try:
        policy = load_policy(settings.agent_policy_file)
    except PolicyError as exc:  # refuse to start, saying what is wrong with the file
        log.error("%s", exc)
        raise SystemExit(f"agent not started: {exc}") from None
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-agent",
                            credential=credential_for(settings, "agent"))
    pool = await connect_pool(await database_dsn(settings, "agent"), max_size=8)
    try:
        await require_streams(bus.js)
        async with pool.acquire() as conn:
            await rebuild_from_audit(conn, bus.js)
        routes = handlers(settings, policy, bus, pool, train or default_train(), decision_verifier(settings))
        consumers = specs(settings, routes)
        runners = [ConsumerRunner(bus, consumers[name], routes[name]) for name in ("diagnoser", "gate", "executor")]
        mode = "recommend-only" if settings.agent_recommend_only else "acting"
        log.info("agent running (%s mode, storm window %s, approvals expire after %s)", mode, policy.storm_window,
                 policy.approval_ttl)
        await asyncio.gather(*(r.run(stop) for r in runners), OutboxRelay(bus, pool).run(stop),
                             expiry_loop(pool, stop, settings.agent_expiry_interval_s))
    finally:
        await pool.close()
        await bus.close()
