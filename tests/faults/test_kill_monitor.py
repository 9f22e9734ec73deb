"""The drift monitor killed with SIGKILL mid-batch under load: every prediction in exactly one window, one alert."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from infra.models import load_alias
from infra.stream_reader import read_stream
from schemas import AlertRaised, DriftReported, parse_event
from schemas.streams import AUDIT
from tests.faults.harness import PublishLoop, Tally, eventually
from tests.faults.services import ServiceProcess, service_env

pytestmark = pytest.mark.integration

TOTAL, WINDOW, DRIFT_AT = 6_000, 500, 3_000


async def covered(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT coalesce(max(last_seq), 0) FROM monitor_state") or 0
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def test_monitor_killed_mid_batch_counts_every_prediction_once(bus, model_settings, database_url, tmp_path):
    from tests.integration.monitor_helpers import prediction_events

    settings = model_settings
    loaded = await asyncio.to_thread(load_alias, settings)
    preds, _ = prediction_events(loaded, TOTAL, seed=3, drift_at=DRIFT_AT, shift={"mean radius": 0.5})
    env = service_env(settings, database_url, DRIFTLINE_MONITOR_WINDOW_EVENTS=str(WINDOW),
                      DRIFTLINE_MONITOR_IDLE_CLOSE_S="3600", DRIFTLINE_MONITOR_METRICS_PORT="0",
                      DRIFTLINE_MONITOR_EVIDENTLY_REPORTS="false", DRIFTLINE_MODEL_POLL_S="3600")
    monitor = ServiceProcess("monitor", env, tmp_path)
    loop = PublishLoop(bus, lambda i: preds[i], chunk=100)
    publishing = asyncio.create_task(loop.run(TOTAL, pace=0.02))
    monitor.start()
    try:
        killed_at = await eventually(lambda: _at_least(covered(database_url), 1500), 180, "the monitor scoring")
        monitor.kill()
        unacked_at_kill = (await bus.js.consumer_info("PREDICTIONS", "monitor")).num_ack_pending
        await publishing
        last = (await bus.js.stream_info("PREDICTIONS")).state.last_seq
        monitor.start()
        restarted = time.monotonic()
        await eventually(lambda: _at_least(covered(database_url), last), 240, "every prediction scored after restart")
        recovery_s = round(time.monotonic() - restarted, 1)
        await eventually(lambda: _reports(bus, TOTAL // WINDOW), 60, "every window reported")
    finally:
        monitor.stop()

    events = [parse_event(m.data) async for m in read_stream(bus.js, AUDIT.name)]
    reports = [e for e in events if isinstance(e, DriftReported)]
    alerts = [e for e in events if isinstance(e, AlertRaised)]
    counted = sum(r.data.window.events for r in reports)
    spans = sorted((r.data.window.start, r.data.window.end) for r in reports)
    overlapping = sum(1 for a, b in zip(spans, spans[1:], strict=False) if b[0] <= a[1])
    Tally("drift monitor SIGKILL mid-batch", injected=f"SIGKILL at stream sequence {killed_at}, restart",
          published=TOTAL, acked=len(loop.acked), processed=counted, lost=TOTAL - counted,
          duplicated=overlapping + max(0, len(alerts) - 1),
          extra={"unacked_at_kill": unacked_at_kill, "recovery_s": recovery_s, "windows": len(reports),
                 "alerts": len(alerts)}).report()
    assert len(loop.acked) == TOTAL and unacked_at_kill > 0  # the kill cut a batch in hand
    assert [r.data.window.events for r in reports] == [WINDOW] * (TOTAL // WINDOW)  # each prediction in one window
    assert overlapping == 0 and len({r.id for r in reports}) == len(reports)
    assert [(a.data.kind, a.data.features) for a in alerts] == [("data_drift", ["mean radius"])]  # raised once
    assert alerts[0].causation_id in {p.id for p in preds[DRIFT_AT:]}


async def _at_least(value, n: int):
    got = await value
    return got if got >= n else 0


async def _reports(bus, n: int) -> bool:
    info = await bus.js.stream_info(AUDIT.name, subjects_filter=DriftReported.topic)
    return sum((info.state.subjects or {}).values()) >= n

