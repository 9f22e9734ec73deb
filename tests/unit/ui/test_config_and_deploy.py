"""The Configuration view's rows and a deployment request's words, from data."""

from __future__ import annotations

from infra.settings import Settings
from ui import config_view
from ui.deploy import deploy_request

V1 = {"version": 1, "time": "2026-12-02T06:00:01.5Z", "approved_by": "bob", "approval_id": "ap1", "reason": "r1",
      "config": {"worker_batch": 50},
      "changes": [{"key": "worker_batch", "old": 500, "new": 50, "owner": "worker"}]}
V2 = {"version": 2, "time": "2026-12-02T06:10:00Z", "approved_by": "carol", "approval_id": None, "reason": "",
      "config": {"worker_batch": 50, "monitor_window_events": 300},
      "changes": [{"key": "monitor_window_events", "old": 1000, "new": 300, "owner": "monitor"}]}


def test_current_values_come_from_the_last_version_and_the_settings_for_keys_never_changed():
    rows = {r["key"]: r for r in config_view.current([V2, V1], Settings(gateway_batch_max=128))}
    assert (rows["worker_batch"]["value"], rows["worker_batch"]["version"], rows["worker_batch"]["owner"]) == \
        (50, 1, "worker")
    assert (rows["monitor_window_events"]["value"], rows["monitor_window_events"]["approved_by"]) == (300, "carol")
    assert (rows["gateway_batch_max"]["value"], rows["gateway_batch_max"]["version"]) == (128, None)


def test_history_says_who_approved_what_changed_and_when():
    history = config_view.history([V2, V1])
    assert [h["version"] for h in history] == [2, 1]
    assert history[1]["changes"] == [("worker_batch", 500, 50, "worker")]
    assert history[1]["time"] == "2026-12-02 06:00:01" and history[1]["approved_by"] == "bob"


def test_a_deploy_request_compares_the_version_with_the_champion_from_their_figures():
    target = {"version": "3", "metrics": {"f1": 0.95}}
    champion = {"version": "5", "metrics": {"best_f1": 0.97}}
    asked = deploy_request("alice", "m", target, champion, "the new one misses the old segment")
    assert asked.action.kind == "deploy_model" and asked.action.params == {"version": "3"}
    assert asked.action.tier == "one_approver"
    assert "0.950" in asked.impact and "champion version 5 has 0.970" in asked.impact and "-0.020" in asked.impact
    assert asked.summary == "alice asks to deploy m version 3: the new one misses the old segment"
    assert "no champion serves now" in deploy_request("alice", "m", target, None, "").impact
