"""The executor's pure rules: what it refuses to run, and how it words a failure."""

from __future__ import annotations

from agent.authorisation import refusal
from agent.executor import describe_error
from agent.policy import load_policy
from schemas import ActionScheduled
from schemas.data import CheckFailure

POLICY = load_policy()


def scheduled(kind, tier, params=None, approved_by="policy", approval_id=None) -> ActionScheduled:
    return ActionScheduled(source="agent/gate", subject="m", data=dict(
        action=dict(action_id="a", kind=kind, model="m", tier=tier, params=params or {}), approved_by=approved_by,
        approval_id=approval_id))


async def test_automatic_actions_run_only_as_the_policy_proposes_them():
    # (the approval path reads the approvals table: tests/integration/test_agent_executor.py)
    assert await refusal(None, scheduled("log_error", "automatic"), POLICY, None) is None
    assert await refusal(None, scheduled("scale_service", "automatic", {"service": "worker", "replicas": 3}),
                         POLICY, None) is None
    zero = await refusal(None, scheduled("scale_service", "automatic", {"service": "worker", "replicas": 0}), POLICY,
                         None)
    assert "the policy proposes no automatic scale_service" in zero
    assert "one_approver in the policy" in await refusal(None, scheduled("retrain_model", "automatic"), POLICY, None)
    assert "needs a person's approval" in await refusal(None, scheduled("retrain_model", "one_approver"), POLICY, None)
    assert "needs a person's approval" in await refusal(None, scheduled("delete_data", "human_only"), POLICY, None)


def test_a_refused_data_set_names_the_failed_checks():
    class DataInvalid(Exception):
        failures = [CheckFailure(column="mean_radius", check="in_range(1.7, 33.4)", failing_count=23)]

    text = describe_error(DataInvalid("data set builtin:breast_cancer failed 1 check(s)"))
    assert text == ("DataInvalid: data set builtin:breast_cancer failed 1 check(s): mean_radius failed "
                    "in_range(1.7, 33.4) (23 rows)")
    assert describe_error(ValueError("boom")) == "ValueError: boom"
