"""The gate's bus adapter: diagnoses and decisions in, schedules, requests, escalations and refusals out."""

from __future__ import annotations

import logging

import asyncpg

from agent.gate import on_decision, plan
from agent.policy import Policy
from infra import approvals
from infra.bus import Bus
from infra.consumer import Received
from schemas import ApprovalDecided, ApprovalRefused, DiagnosisMade

log = logging.getLogger(__name__)


class GateHandler:
    """Consumes DiagnosisMade and ApprovalDecided; emits ActionScheduled / ApprovalRequested / ActionEscalated."""

    def __init__(self, bus: Bus, pool: asyncpg.Pool, policy: Policy, *, recommend_only: bool = False):
        self.bus, self.pool, self.policy, self.recommend_only = bus, pool, policy, recommend_only

    async def __call__(self, batch: list[Received]) -> None:
        for item in batch:
            if isinstance(item.event, DiagnosisMade):
                await self.on_diagnosis(item.event)
            elif isinstance(item.event, ApprovalDecided):
                await self.on_decided(item.event)

    async def on_diagnosis(self, diagnosis: DiagnosisMade) -> None:
        out = plan(diagnosis, self.policy, recommend_only=self.recommend_only)
        async with self.pool.acquire() as conn:
            for request in out.requests:  # the row exists before anyone can see the request
                await approvals.record_request(conn, request)
        await self.bus.publish_many([*out.events, *out.requests])

    async def on_decided(self, decided: ApprovalDecided) -> None:
        async with self.pool.acquire() as conn:
            row = await approvals.get(conn, decided.data.approval_id)
        event = on_decision(decided, row)
        if isinstance(event, ApprovalRefused):
            log.warning("refused decision %s: %s", decided.id, event.data.detail)
        await self.bus.publish(event)
