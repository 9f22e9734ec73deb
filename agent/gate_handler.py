"""The gate's bus adapter: a diagnosis in; its requests (rows) and events written in one transaction, via the outbox."""

from __future__ import annotations

import asyncpg

from agent.approvals import book
from agent.gate import plan
from agent.policy import Policy
from infra import outbox
from infra.consumer import Received, Routes
from schemas import DiagnosisMade


class GateHandler:
    """Consumes DiagnosisMade; announces ActionScheduled / ApprovalRequested / ActionEscalated."""

    def __init__(self, pool: asyncpg.Pool, policy: Policy, *, recommend_only: bool = False):
        self.pool, self.policy, self.recommend_only = pool, policy, recommend_only
        self.routes = Routes({DiagnosisMade: self.on_diagnosis})

    async def on_diagnosis(self, item: Received) -> None:
        out = plan(item.event, self.policy, recommend_only=self.recommend_only)
        async with self.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, out.events)
            for request in out.requests:  # the row and its announcement together
                await book.record_request(conn, request)
