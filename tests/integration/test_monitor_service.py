"""The monitor service against a real nats-server, PostgreSQL and MLflow store: alerts once, resumes, reloads."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from prometheus_client import REGISTRY

from consumers.monitor.service import MonitorService
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
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
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
