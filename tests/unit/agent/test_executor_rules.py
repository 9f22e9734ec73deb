"""The executor's pure rules: what it refuses to run, and how it words a failure."""

from __future__ import annotations

from agent.executor import describe_error, refusal
from schemas import ActionScheduled
from schemas.data import CheckFailure


def scheduled(kind, tier, approved_by="policy", approval_id=None) -> ActionScheduled:
    return ActionScheduled(source="agent/gate", subject="m", data=dict(
        action=dict(action_id="a", kind=kind, model="m", tier=tier), approved_by=approved_by,
        approval_id=approval_id))


def test_only_what_the_tier_allows_is_run():
    assert refusal(scheduled("log_error", "automatic")) is None
    assert refusal(scheduled("retrain_model", "one_approver", "bob", "ap-1")) is None
    assert "needs a person's approval" in refusal(scheduled("retrain_model", "one_approver"))
    assert "human only" in refusal(scheduled("delete_data", "human_only"))  # never on the policy's say
    assert "human only" in refusal(scheduled("delete_data", "human_only", "agent", "ap-2"))
    # A person's approval passes this rule; the action itself then checks two different admins stand behind it.
    assert refusal(scheduled("delete_data", "human_only", "root", "ap-2")) is None


def test_a_refused_data_set_names_the_failed_checks():
    class DataInvalid(Exception):
        failures = [CheckFailure(column="mean_radius", check="in_range(1.7, 33.4)", failing_count=23)]

    text = describe_error(DataInvalid("data set builtin:breast_cancer failed 1 check(s)"))
    assert text == ("DataInvalid: data set builtin:breast_cancer failed 1 check(s): mean_radius failed "
                    "in_range(1.7, 33.4) (23 rows)")
    assert describe_error(ValueError("boom")) == "ValueError: boom"
