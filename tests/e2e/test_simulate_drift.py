"""`driftline simulate` through the real worker and monitor processes: drift from a chosen row raises exactly one
data-drift alert naming the drifted features; the same run without drift raises none."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from infra.processes import free_port, spawn, stop
from tests.integration.monitor_helpers import audit_events, wait_for
from tests.model_fixtures import register_simple_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
ROWS = 3000


@pytest.fixture
async def services(settings, database_url, tmp_path):
    """A registered champion, and the inference worker and the monitor as their own processes."""
    await asyncio.to_thread(register_simple_model, settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(DRIFTLINE_DATA_DIR=str(settings.data_dir), DRIFTLINE_NATS_URL=settings.nats_url,
               DRIFTLINE_DATABASE_URL=database_url, DRIFTLINE_MONITOR_METRICS_PORT=str(free_port()),
               DRIFTLINE_MONITOR_WINDOW_EVENTS="500", DRIFTLINE_MONITOR_IDLE_CLOSE_S="2",
               DRIFTLINE_MONITOR_EVIDENTLY_REPORTS="false")
    procs = [spawn([sys.executable, "-m", "driftline", "serve", name], cwd=ROOT, env=env,
                   log_path=tmp_path / f"{name}.log") for name in ("worker", "monitor")]
    yield env
    for proc in procs:
        stop(proc)


def simulate(env, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "driftline", "simulate", "--rows", str(ROWS), "--rate", "1500",
                           "--label-delay", "0.5", "--seed", "11", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def all_windows(bus):
    """Every drift report and alert, once the reports cover all simulated predictions."""
    events = await audit_events(bus, "driftline.>")
    covered = sum(e.data.window.events for e in events if e.type.startswith("driftline.monitoring.drift_report"))
    return events if covered >= ROWS else None


async def test_drift_from_a_row_raises_one_alert_naming_the_drifted_features(services, bus):
    simulate(services, "--drift-at", "1000", "--shift", "mean radius=0.8", "--shift", "worst texture=0.8")
    events = await wait_for(lambda: all_windows(bus), timeout=240, every=1.0)
    data_alerts = [e.data for e in events if e.type.startswith("driftline.alert.raised") and e.data.kind == "data_drift"]
    assert len(data_alerts) == 1
    assert sorted(data_alerts[0].features) == ["mean radius", "worst texture"]
    assert data_alerts[0].window.start.timestamp() > 0 and data_alerts[0].report_url.startswith("evidently/")
    reports = [e.data for e in events if e.type.startswith("driftline.monitoring.drift_report")]
    # The worker answers in parallel micro-batches, so windows follow arrival order, not row numbers; but no
    # window may flag a feature that was not drifted.
    flagged = {f.feature for r in reports for f in r.features if f.drifted and f.statistic == "cusum"}
    assert flagged <= {"mean radius", "worst texture", "__prediction__"} and len(reports) == ROWS // 500
    # The monitor's own /metrics: drift statistics, share drifted, detector state, alert state and consumer lag.
    port = services["DRIFTLINE_MONITOR_METRICS_PORT"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    for name in ('driftline_monitor_feature_drift{feature="mean radius",model="driftline-classifier",statistic="psi"}',
                 'driftline_monitor_alert_open{kind="data_drift",model="driftline-classifier"} 1.0',
                 "driftline_monitor_share_drifted", "driftline_monitor_detector_level",
                 'driftline_consumer_lag_messages{consumer="monitor"}'):
        assert name in text, name


async def test_the_same_run_without_drift_raises_nothing(services, bus):
    simulate(services)
    events = await wait_for(lambda: all_windows(bus), timeout=240, every=1.0)
    assert [e for e in events if e.type.startswith("driftline.alert.")] == []
    reports = [e.data for e in events if e.type.startswith("driftline.monitoring.drift_report")]
    assert len(reports) >= ROWS // 500 and all(r.share_drifted == 0 for r in reports)
