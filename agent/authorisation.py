"""The executor trusts no message: before an action runs, the agent's own stores must say it may.

An automatic action must be one the policy itself proposes (its kind and exact parameters); any other needs an
approvals row for exactly this action (kind, parameters, model, hash), approved by the person the schedule names,
before the request expired, with the approvals owner's signature, which a row written straight into the table
lacks. A data deletion also needs an admin's request and a second admin's approval.
"""

from __future__ import annotations

import asyncpg

from agent.approvals.events import action_of
from agent.approvals.read import get
from agent.approvals.rules import action_hash, decision_record
from agent.policy import Policy
from infra.keys import Verifier
from schemas import ActionScheduled


def _automatic_allowed(policy: Policy, kind: str, params: dict) -> bool:
    templates = [t for by_issue in policy.responses.values() for ts in by_issue.values() for t in ts]
    return any(t.kind == kind and t.params == params for t in [*templates, *policy.verification.on_failure])


async def refusal(conn: asyncpg.Connection, scheduled: ActionScheduled, policy: Policy, verifier: Verifier) -> str | None:
    """Why the executor must not run this schedule (None: it may)."""
    s, a = scheduled.data, scheduled.data.action
    tier = policy.tier(a.kind)
    if a.tier != tier:
        return f"{a.kind} is {tier} in the policy, not {a.tier} as the schedule says"
    if tier == "automatic" and s.approval_id is None:
        if s.approved_by != "policy" or not _automatic_allowed(policy, a.kind, a.params):
            return f"the policy proposes no automatic {a.kind} with parameters {a.params}"
        return None
    if not s.approval_id:
        return f"{a.kind} needs a person's approval and the schedule names none"
    row = await get(conn, s.approval_id)
    if row is None:
        return f"no approval {s.approval_id} in the agent's store"
    if row["status"] != "approved":
        return f"approval {s.approval_id} is {row['status']}, not approved"
    if action_of(row) != a or row["action_hash"] != action_hash(a):
        return f"approval {s.approval_id} is for another action (kind, parameters or hash differ)"
    if row["decided_by"] != s.approved_by:
        return f"approval {s.approval_id} was decided by {row['decided_by']}, not {s.approved_by}"
    if not verifier.verify(decision_record(row), row.get("decision_signature")):
        return f"approval {s.approval_id} carries no valid signature of the approvals owner: no person decided it"
    if row["decided_at"] >= row["expires_at"]:
        return f"approval {s.approval_id} was decided after it expired"
    if tier == "human_only":
        if row["required_role"] != "admin" or row["requested_by"] == "agent":
            return f"{a.kind} is human only: an admin starts it, the agent never does"
        if row["decided_by"] == row["requested_by"]:
            return f"{a.kind} needs a second person's approval"
    return None
