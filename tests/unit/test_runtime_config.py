"""Runtime configuration: the contract's checks, the follower's order and refusal, and each owner applying its
keys (monitor thresholds and windows, worker and gateway batch sizes) without a restart."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from consumers.monitor.drift_monitor import DriftMonitor
from consumers.monitor.service import MonitorService, monitor_config
from inference.batcher import MicroBatcher
from inference.worker import InferenceWorker
from infra.runtime_config import ConfigFollower
from infra.settings import Settings
from schemas import ConfigChanged
from schemas.config import ConfigRefused, checked, owned
from schemas.monitoring import AlertRaised, DriftReported

from .monitor.streams import profile, stream
from .monitor.test_drift_monitor import CONFIG, predictions, run


def changed(version: int, config: dict, changes=None) -> ConfigChanged:
    return ConfigChanged(source="agent/executor", subject="driftline-classifier", data=dict(
        version=version, config=config, approved_by="bob", action_id=f"a{version}",
        changes=changes or [dict(key=k, old=None, new=v, owner="x") for k, v in config.items()]))


def test_the_contract_refuses_unknown_keys_wrong_types_and_out_of_range_values_by_name():
    assert checked({"worker_batch": 20, "monitor_window_s": 60}) == {"worker_batch": 20, "monitor_window_s": 60.0}
    with pytest.raises(ConfigRefused, match=r"psi_threshold=0.3: not a runtime setting"):
        checked({"psi_threshold": 0.3})
    with pytest.raises(ConfigRefused, match=r"worker_batch=0: Input should be greater than or equal to 1"):
        checked({"worker_batch": 0, "gateway_batch_max": 10})
    with pytest.raises(ConfigRefused, match=r"monitor_window_events='500'"):
        checked({"monitor_window_events": "500"})
    with pytest.raises(ConfigRefused, match="non-empty mapping"):
        checked({})
    assert owned("worker", {"worker_batch": 3, "gateway_batch_max": 9}) == {"worker_batch": 3}


def test_the_follower_applies_versions_once_in_order_and_refuses_a_bad_one_whole():
    applied: list[dict] = []
    follower = ConfigFollower(None, "worker", applied.append)

    async def go():
        assert await follower.follow(changed(2, {"worker_batch": 20, "gateway_batch_max": 5}))
        assert not await follower.follow(changed(1, {"worker_batch": 99}))  # older: skipped
        assert not await follower.follow(changed(2, {"worker_batch": 98}))  # the same version again: skipped
        # A forged version whose worker share breaks the contract: nothing of it applies, the version stays.
        assert not await follower.follow(changed(3, {"worker_batch": 0, "worker_batch_wait_s": 0.1}))
        assert follower.version == 2
        assert await follower.follow(changed(4, {"gateway_batch_max": 7}))  # none of its keys: version moves
        assert follower.version == 4

    asyncio.run(go())
    assert applied == [{"worker_batch": 20}]


def test_a_failing_apply_leaves_the_version_where_it_was():
    def refuse(values):
        raise ValueError("cannot")

    follower = ConfigFollower(None, "monitor", refuse)
    assert not asyncio.run(follower.follow(changed(1, {"monitor_clear_windows": 5})))
    assert follower.version == 0


def test_the_monitor_takes_a_new_false_alarm_rate_and_window_without_losing_its_sums():
    events = predictions(stream(2, 6000), shift_rows=range(1500, 3000))
    baseline = [e for e in run(DriftMonitor(profile(), CONFIG), events) if isinstance(e, AlertRaised)]
    assert baseline[0].data.details["detections"]["x3"]["row"] == 1617

    eager = dataclasses.replace(CONFIG, false_alarms_per_10k=50.0, clear_after=7,
                                window=dataclasses.replace(CONFIG.window, events=250))
    monitor = DriftMonitor(profile(), CONFIG)
    first = run(monitor, events[:1000])
    monitor.reconfigure(eager)
    fresh = DriftMonitor(profile(), eager)
    assert monitor.bank.threshold == fresh.bank.threshold < DriftMonitor(profile(), CONFIG).bank.threshold
    assert monitor.errors.threshold == fresh.errors.threshold and monitor.hysteresis.clear_after == 7
    rest = run(monitor, events[1000:])
    reports = [e for e in first + rest if isinstance(e, DriftReported)]
    assert [r.data.window.events for r in reports[:3]] == [500, 500, 250]  # the new window from the next one
    alert = [e for e in rest if isinstance(e, AlertRaised)][0]
    assert alert.data.details["detections"]["x3"]["row"] < 1617  # a lower threshold sees the shift sooner


def test_the_monitor_refuses_a_change_it_cannot_make_before_changing_anything():
    monitor = DriftMonitor(profile(), CONFIG)
    before = monitor.bank.threshold
    with pytest.raises(ValueError, match="chosen at start"):
        monitor.reconfigure(dataclasses.replace(CONFIG, false_alarms_per_10k=5.0, detector="adwin"))
    assert monitor.bank.threshold == before and monitor.config == CONFIG


def test_the_monitor_service_worker_and_gateway_apply_their_keys():
    settings = Settings()
    service = MonitorService(settings, None, None)
    service.apply_config({"monitor_window_events": 300, "monitor_idle_close_s": 5.0})
    assert service.config == dataclasses.replace(monitor_config(settings), window=dataclasses.replace(
        monitor_config(settings).window, events=300))
    assert service.settings.monitor_idle_close_s == 5.0

    worker = InferenceWorker(settings, None, None)
    loops = [worker.runner(), worker.runner()]
    worker.apply_config({"worker_batch": 20, "worker_batch_wait_s": 0.01})
    assert [(loop.spec.batch, loop.spec.max_wait) for loop in loops] == [(20, 0.01), (20, 0.01)]
    assert worker.spec.durable == "inference-worker" and worker.spec.batch == 20

    batcher = MicroBatcher(lambda: None, max_records=256, max_wait_s=0.0)
    batcher.apply_config({"gateway_batch_max": 16})
    assert (batcher.max_records, batcher.max_wait_s) == (16, 0.0)
