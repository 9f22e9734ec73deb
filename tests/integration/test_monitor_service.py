"""The monitor service against a real nats-server, PostgreSQL and MLflow store: alerts once, resumes, reloads."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from prometheus_client import REGISTRY

from consumers.monitor import state_store
from consumers.monitor.service import MonitorService
from infra.champion import ChampionFollower
from infra.db import connect_pool
from infra.models import configure_mlflow, load_alias
from infra.settings import Settings
from schemas import ModelPromoted
from tests.integration.monitor_helpers import audit_events, prediction_events, wait_for
from tests.model_fixtures import register_simple_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    """One registered champion for the module; each test works on its own copy of the store."""
    data = tmp_path_factory.mktemp("registry") / "data"
    register_simple_model(Settings(data_dir=data))
    return data / "mlflow"


@pytest.fixture
async def stage(settings, bus, database_url, mlflow_store):
    settings = settings.model_copy(update=dict(database_url=database_url, monitor_window_events=500,
                                               monitor_idle_close_s=3600, model_poll_s=3600))
    shutil.copytree(mlflow_store, settings.data_dir / "mlflow")
    configure_mlflow(settings)  # MLflow's tracking URI is process-global: point it at this test's copy
    loaded = await asyncio.to_thread(load_alias, settings)
    pool = await connect_pool(database_url, max_size=3)
    yield settings, bus, pool, loaded
    await pool.close()


async def start(settings, bus, pool):
    service = MonitorService(settings, bus, pool)
    follower = ChampionFollower(bus, settings.model_name, service.champion_changed, settings.model_poll_s)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop, follower))
    return service, stop, task


async def kinds_of(bus):
    return [(e.type.split(".")[-2], getattr(e.data, "kind", None)) for e in await audit_events(bus)]


async def test_drift_raises_one_alert_with_a_report_and_resumes_after_restart(stage):
    settings, bus, pool, loaded = stage
    preds, labels = prediction_events(loaded, 3000, seed=1, drift_at=1000, shift={"mean radius": 0.5})
    await bus.publish_many(preds[:1500])
    service, stop, task = await start(settings, bus, pool)
    await wait_for(lambda: asyncio.sleep(0, service.last_seq >= 1500))
    stop.set()
    await task
    # A second process takes over from the saved state; the rest of the stream and the labels arrive.
    await bus.publish_many(preds[1500:])
    await bus.publish_many(labels[:1000])
    service, stop, task = await start(settings, bus, pool)

    async def six_reports():
        events = await audit_events(bus)
        return events if sum(e.type.startswith("driftline.monitoring.drift_report") for e in events) >= 6 else None

    events = await wait_for(six_reports)
    alerts = [e for e in events if e.type.startswith("driftline.alert.raised")]
    assert [(a.data.kind, a.data.features) for a in alerts] == [("data_drift", ["mean radius"])]
    assert alerts[0].causation_id == preds[1499].id  # the window [1000, 1500) holds the detection
    reports = [e for e in events if e.type.startswith("driftline.monitoring.drift_report")]
    assert [r.data.window.events for r in reports] == [500] * 6
    assert reports[2].data.report_url == alerts[0].data.report_url == f"evidently/{alerts[0].id}.html"
    page = settings.reports_dir / alerts[0].data.report_url
    await wait_for(lambda: asyncio.sleep(0, page.exists()), timeout=120)
    assert "mean radius" in page.read_text()
    await wait_for(lambda: asyncio.sleep(0, service.last_seq >= 4000))
    metrics = REGISTRY.get_sample_value("driftline_monitor_share_drifted", {"model": loaded.name})
    assert metrics is not None
    assert REGISTRY.get_sample_value("driftline_monitor_alert_open", {"model": loaded.name, "kind": "data_drift"}) == 1

    # A promotion replaces the reference: the open alert clears, and the new version is watched.
    version = await asyncio.to_thread(register_simple_model, settings, C=0.5)
    promoted = ModelPromoted(source="test", subject=loaded.name,
                             data=dict(model=loaded.name, version=version, previous_version=loaded.version,
                                       reason="test"))
    await bus.publish(promoted)
    await wait_for(lambda: asyncio.sleep(0, service.monitor.profile.version == version))
    stop.set()
    await task
    cleared = [e for e in await audit_events(bus, "driftline.alert.cleared")]
    assert [(c.data.alert_id, c.causation_id) for c in cleared] == [(alerts[0].id, promoted.id)]
    assert len(await audit_events(bus, "driftline.alert.raised")) == 1


async def test_labels_join_predictions_and_fill_window_quality(stage):
    settings, bus, pool, loaded = stage
    preds, labels = prediction_events(loaded, 1000, seed=2)
    await bus.publish_many(preds)
    await bus.publish_many(labels)
    service, stop, task = await start(settings, bus, pool)
    await wait_for(lambda: asyncio.sleep(0, service.last_seq >= 2000))
    more, _ = prediction_events(loaded, 500, seed=3)
    await bus.publish_many(more)  # closes the window that holds the labels
    await wait_for(lambda: asyncio.sleep(0, service.last_seq >= 2500))
    stop.set()
    await task
    reports = [e.data for e in await audit_events(bus, "driftline.monitoring.>")]
    assert [r.window.events for r in reports] == [500, 500, 500]
    assert reports[2].quality["labelled"] == 1000 and reports[2].quality["error_rate"] < 0.05
    assert await audit_events(bus, "driftline.alert.>") == []
    left = await pool.fetchval("SELECT count(*) FROM monitor_predictions")
    assert left == 500  # joined predictions are removed; the 500 unlabelled ones wait
    # Every window is estimated from its probabilities; the labels (joined with their stored scores) check it.
    estimates = [r.estimate for r in reports]
    assert [e.rows for e in estimates] == [500, 500, 500] and not estimates[0].calibrated  # the fixture's plain LR
    assert 0.9 < estimates[0].estimated["accuracy"].value < 1 and estimates[0].reference["f1"] > 0.9
    assert estimates[2].labelled == 1000 and estimates[2].estimate_valid is True
    assert estimates[2].realized["accuracy"] == pytest.approx(reports[2].quality["accuracy"])
    gauge = lambda name, **labels: REGISTRY.get_sample_value(name, {"model": loaded.name, **labels})  # noqa: E731
    assert gauge("driftline_monitor_estimated_quality", metric="f1", bound="value") == \
        estimates[2].estimated["f1"].value
    assert gauge("driftline_monitor_estimated_quality", metric="f1", bound="lower") == \
        estimates[2].estimated["f1"].lower
    assert gauge("driftline_monitor_estimated_quality", metric="roc_auc", bound="reference") == \
        estimates[2].reference["roc_auc"]
    assert gauge("driftline_monitor_realized_quality", metric="accuracy") == estimates[2].realized["accuracy"]
    assert gauge("driftline_monitor_estimate_valid") == 1


async def test_flipped_labels_raise_concept_drift_from_the_stored_scores(stage):
    settings, bus, pool, loaded = stage
    preds, labels = prediction_events(loaded, 1000, seed=5)
    flipped = [lb.model_copy(update={"data": lb.data.model_copy(update={"label": 1 - lb.data.label})})
               for lb in labels[:500]]
    await bus.publish_many(preds[:500])
    await bus.publish_many(flipped)
    await bus.publish_many(preds[500:])
    service, stop, task = await start(settings, bus, pool)
    await wait_for(lambda: asyncio.sleep(0, service.last_seq >= 1500))
    stop.set()
    await task
    reports = [e.data for e in await audit_events(bus, "driftline.monitoring.>")]
    assert reports[1].estimate.labelled == 500 and reports[1].estimate.estimate_valid is False
    raised = {e.data.kind: e for e in await audit_events(bus, "driftline.alert.raised")}
    assert {"concept_drift", "quality_drift"} <= set(raised)
    concept = raised["concept_drift"]
    assert concept.correlation_id == concept.id and concept.causation_id == preds[999].id
    assert concept.data.details["estimate"]["realized"]["accuracy"] < 0.1
    assert REGISTRY.get_sample_value("driftline_monitor_estimate_valid", {"model": loaded.name}) == 0
    assert REGISTRY.get_sample_value("driftline_monitor_alert_open", {"model": loaded.name,
                                                                       "kind": "concept_drift"}) == 1


async def test_a_failed_publish_is_scored_once_after_the_retry(stage):
    settings, bus, pool, loaded = stage
    preds, _ = prediction_events(loaded, 1000, seed=4)
    await bus.publish_many(preds)
    service, stop, task = await start(settings, bus, pool)
    real, failures = bus.publish_many, []

    async def flaky(events, **kw):
        if not failures:
            failures.append(len(events))
            raise ConnectionError("bus hiccup")
        return await real(events, **kw)

    bus.publish_many = flaky
    try:
        await wait_for(lambda: asyncio.sleep(0, service.last_seq >= 1000))
    finally:
        bus.publish_many = real
        stop.set()
        await task
    reports = [e.data for e in await audit_events(bus, "driftline.monitoring.>")]
    assert failures and [r.window.events for r in reports] == [500, 500]
    assert service.monitor.bank.seen == 1000  # every prediction scored exactly once


async def test_river_adwin_by_configuration_resumes_its_state_from_postgresql_after_a_restart(stage):
    settings, bus, pool, loaded = stage
    settings = settings.model_copy(update={"monitor_detector": "adwin"})
    preds, _ = prediction_events(loaded, 3000, seed=2, drift_at=1000, shift={"mean radius": 1.0})
    await bus.publish_many(preds[:1500])
    service, stop, task = await start(settings, bus, pool)
    await wait_for(lambda: asyncio.sleep(0, service.last_seq >= 1500))
    stop.set()
    await task
    saved = (await state_store.fetch_state(pool, loaded.name))[1]
    assert saved["detector"] == "adwin" and saved["bank_seen"] == 1500
    service, stop, task = await start(settings, bus, pool)  # a second process takes over from the saved state
    await wait_for(lambda: asyncio.sleep(0, service.monitor is not None))
    assert service.monitor.bank.seen == 1500 and service.monitor.bank.to_state() == saved["bank"]
    await bus.publish_many(preds[1500:])
    await wait_for(lambda: asyncio.sleep(0, service.last_seq >= 3000))
    stop.set()
    await task
    alerts = await audit_events(bus, "driftline.alert.raised")
    assert [(a.data.kind, a.data.features, a.data.detector) for a in alerts] == [
        ("data_drift", ["mean radius"], "adwin:change")]
    assert "River ADWIN" in alerts[0].data.summary
