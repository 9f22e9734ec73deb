"""The desk people decide at: the page and the terminal call it, with a person who proved who they are."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from agent.approvals import book
from agent.approvals.book import Verdict
from agent.approvals.rules import action_hash
from infra.keys import Signer
from infra.users import User
from schemas.action import ActionSpec
from schemas.approval import ApprovalRequest, ApprovalRequested
from schemas.envelope import new_id, utcnow


class ApprovalDesk:
    """Decisions and person-started requests, each in one transaction with the events it announces."""

    def __init__(self, pool: asyncpg.Pool, signer: Signer):
        self.pool, self.signer = pool, signer

    async def decide(self, approval_id: str, person: User | None, decision: str, seen_hash: str, *,
                     comment: str = "", via: str = "web") -> Verdict:
        async with self.pool.acquire() as conn:
            return await book.decide(conn, approval_id, person, decision, seen_hash, utcnow(), signer=self.signer,
                                     comment=comment[:2000], via=via)

    async def request(self, person: User, action: ActionSpec, *, summary: str, predicted_impact: str,
                      ttl: timedelta) -> str:
        """A request a person starts (a rollback, a deployment, a data deletion); another person decides it."""
        event = person_request(person.name, action, summary=summary, predicted_impact=predicted_impact, ttl=ttl)
        async with self.pool.acquire() as conn:
            await book.record_request(conn, event)
        return event.data.approval_id


def person_request(person: str, action: ActionSpec, *, summary: str, predicted_impact: str, ttl: timedelta,
                   source: str = "ui") -> ApprovalRequested:
    """The request event of a person's own action (page or terminal); `book.record_request` writes it."""
    approval_id = new_id()
    return ApprovalRequested(id=approval_id, source=source, subject=action.model, data=ApprovalRequest(
        approval_id=approval_id, action=action, action_hash=action_hash(action), requested_by=person,
        summary=summary, predicted_impact=predicted_impact, expires_at=utcnow() + ttl))
