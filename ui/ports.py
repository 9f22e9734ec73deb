"""What the page needs from the approvals owner, passed in by the composition root (the page writes no table of it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from infra.users import User
from schemas.action import ActionSpec


class Refusal(Protocol):
    reason: str
    detail: str


class Verdict(Protocol):
    row: dict[str, Any] | None
    refusal: Refusal | None


class ApprovalDesk(Protocol):
    """Decides a signed-in person's decision and starts a person's request, each with its announcement."""

    async def decide(self, approval_id: str, person: User | None, decision: str, seen_hash: str, *,
                     comment: str = "", via: str = "web") -> Verdict: ...

    async def request(self, person: User, action: ActionSpec, *, summary: str, predicted_impact: str,
                      ttl: timedelta) -> str: ...
