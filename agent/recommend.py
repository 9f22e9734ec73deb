"""Recommend-only mode's report card: the share of the agent's proposals that people approved."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from prometheus_client import Gauge

APPROVED_RATIO = Gauge("driftline_agent_proposals_approved_ratio",
                       "Share of the agent's decided proposals that a person approved.")
PROPOSALS = Gauge("driftline_agent_proposals", "The agent's approval requests by status.", ["status"])


@dataclass(frozen=True)
class ApprovalRatio:
    proposed: int
    approved: int
    rejected: int
    expired: int
    pending: int

    @property
    def decided(self) -> int:
        return self.approved + self.rejected + self.expired

    @property
    def ratio(self) -> float | None:
        """Approved over decided (an expired request counts as not approved); None before any decision."""
        return self.approved / self.decided if self.decided else None

    def describe(self) -> str:
        if self.ratio is None:
            return f"{self.proposed} proposal(s) by the agent, none decided yet"
        return (f"people approved {self.approved} of {self.decided} decided proposal(s) by the agent "
                f"({self.ratio:.0%}); {self.rejected} rejected, {self.expired} expired, {self.pending} pending")


async def approval_ratio(conn: asyncpg.Connection) -> ApprovalRatio:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM approvals WHERE requested_by = 'agent' GROUP BY status")
    counts = {r["status"]: r["n"] for r in rows}
    return ApprovalRatio(sum(counts.values()), counts.get("approved", 0), counts.get("rejected", 0),
                         counts.get("expired", 0), counts.get("pending", 0))


def update_gauge(ratio: ApprovalRatio) -> None:
    for status in ("approved", "rejected", "expired", "pending"):
        PROPOSALS.labels(status).set(getattr(ratio, status))
    if ratio.ratio is not None:
        APPROVED_RATIO.set(ratio.ratio)
