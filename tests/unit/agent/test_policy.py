"""The policy file: shipped defaults, refused when invalid with a clear error, and behaviour follows the file."""

from __future__ import annotations

import pytest
import yaml

from agent.diagnoser import diagnose
from agent.gate import plan
from agent.policy import DEFAULT_POLICY, PolicyError, load_policy
from tests.unit.agent.alerts import alert
from tests.unit.agent.evidence_fixtures import evidence, report


def write(tmp_path, doc) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def defaults() -> dict:
    return yaml.safe_load(DEFAULT_POLICY.read_text())


def test_defaults_follow_the_design_tiers():
    p = load_policy()
    assert {k for k, v in p.tiers.items() if v == "automatic"} == {"log_error", "send_alert", "scale_service",
                                                                   "clear_cache"}
    assert {k for k, v in p.tiers.items() if v == "one_approver"} == {"retrain_model", "deploy_model",
                                                                      "rollback_model", "change_config"}
    assert p.tier("delete_data") == "human_only"
    assert p.escalate == ["high", "critical"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["tiers"].pop("delete_data"), "missing: delete_data"),
    (lambda d: d["tiers"].update(retrain_model="whenever"), "tiers.retrain_model"),
    (lambda d: d["tiers"].update(launch_rockets="automatic"), "tiers.launch_rockets"),
    (lambda d: d["responses"]["low"].pop("default"), "responses.low needs a `default` list"),
    (lambda d: d["responses"]["medium"]["default"].append({"kind": "reboot"}), "responses.medium.default"),
    (lambda d: d["severity"]["bands"].update(high=1), "band minimums must rise"),
    (lambda d: d["severity"].update(prediction_shift=[0.2, 0.1]), "ascending"),
    (lambda d: d["verification"].pop("labelled_rows"), "verification.labelled_rows"),
    (lambda d: d["promotion"].update(decide_on="yesterday"), "promotion.decide_on"),
    (lambda d: d.update(storm_window_minutes=0), "storm_window_minutes"),
    (lambda d: d.update(surprise=True), "surprise"),
])
def test_an_invalid_policy_is_refused_with_a_clear_error(tmp_path, change, message):
    doc = defaults()
    change(doc)
    with pytest.raises(PolicyError, match="is invalid") as err:
        load_policy(write(tmp_path, doc))
    assert message in str(err.value)


def test_unreadable_files_are_refused(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.yaml")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(write(tmp_path, "tiers: [unclosed"))
    with pytest.raises(PolicyError, match="must be a mapping"):
        load_policy(write(tmp_path, "- a list"))


def test_changing_the_file_changes_behaviour(tmp_path):
    medium, seen = alert(features=("worst radius",)), evidence(report(
        drifted={"worst radius": (0.5, 2.0, 0.2)}, positive_rate=0.71))
    before = plan(diagnose(medium, load_policy(), seen), load_policy())
    assert [r.data.action.kind for r in before.requests] == ["retrain_model"]

    doc = defaults()
    doc["tiers"]["retrain_model"] = "automatic"
    doc["severity"]["bands"] = {"low": 0, "medium": 1, "high": 2, "critical": 9}
    doc["responses"]["high"]["default"] = [{"kind": "send_alert"}, {"kind": "change_config", "params": {"config": {
        "monitor_window_events": 500}}}]
    changed = load_policy(write(tmp_path, doc))
    after = plan(diagnose(medium, changed, seen), changed)
    assert diagnose(medium, changed, seen).data.severity == "high"  # bands moved
    assert after.requests and after.requests[0].data.action.kind == "change_config"
    doc["responses"]["high"]["default"] = [{"kind": "retrain_model"}]
    changed = load_policy(write(tmp_path, doc))
    after = plan(diagnose(medium, changed, seen), changed)
    assert not after.requests
    assert [e.data.action.kind for e in after.events if e.type.startswith("driftline.action.scheduled")] == [
        "retrain_model"]
