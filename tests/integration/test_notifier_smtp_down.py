"""With the SMTP server down the notifier goes on: Slack still gets its messages, and the mail failure is
counted in Prometheus, recorded in PostgreSQL, and published on the audit trail as ActionFailed(send_alert)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from consumers.notifier import metrics
from consumers.reports.audit_log import load_events
from driftline import run_notifier
from infra.processes import free_port
from infra.settings import Settings
from schemas.action import ActionCompleted, ActionFailed
from tests.integration.notifier_fixtures import WebhookReceiver, wait_for
from tests.unit.reports.story import story

pytestmark = pytest.mark.integration


async def test_smtp_down_is_recorded_counted_and_audited_and_the_loop_goes_on(bus, settings, database_url):
    hook = WebhookReceiver(free_port())
    await hook.start()
    dead_port = free_port()  # nothing listens here
    settings = Settings(**{**settings.model_dump(), **dict(
        database_url=database_url, smtp_host="127.0.0.1", smtp_port=dead_port, smtp_security="none",
        email_to=["ops@example.com"], slack_webhook_url=hook.url, notify_retries=3, notify_backoff_s=[0.05],
        reports_auto=False, reports_log_mlflow=False)})
    failures_before = metrics.NOTIFY_FAILURES.labels("email")._value.get()
    attempts_before = metrics.NOTIFY_ATTEMPTS.labels("email")._value.get()
    first, second = story(), story()
    await bus.publish_many([first["alert"], first["request"]])
    stop = asyncio.Event()
    task = asyncio.create_task(run_notifier.main(settings, stop))
    try:
        await wait_for(lambda: len(hook.received) >= 2, what="Slack messages of the first two events", task=task)
        # The loop is alive: events published after the failures are handled too.
        await bus.publish_many([second["alert"]])
        await wait_for(lambda: len(hook.received) >= 3, what="Slack message of a later event", task=task)
        async with asyncio.timeout(60):
            while len(failed := [e for e in await load_events(bus.js, subjects=(ActionFailed.topic,))
                                 if e.data.kind == "send_alert"]) < 3:
                await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task
        await hook.stop()

    assert {e.data.action_id for e in failed} == {f"send_alert:email:{ev.id}"
                                                  for ev in (first["alert"], first["request"], second["alert"])}
    assert all("after 3 attempts" in e.data.error and "ConnectionRefusedError" in e.data.error for e in failed)
    assert all(e.causation_id in {first["alert"].id, first["request"].id, second["alert"].id} for e in failed)
    completed = [e for e in await load_events(bus.js, subjects=(ActionCompleted.topic,)) if e.data.kind == "send_alert"]
    assert sorted(e.data.action_id for e in completed) == sorted(
        f"send_alert:slack:{ev.id}" for ev in (first["alert"], first["request"], second["alert"]))
    assert metrics.NOTIFY_FAILURES.labels("email")._value.get() == failures_before + 3
    assert metrics.NOTIFY_ATTEMPTS.labels("email")._value.get() == attempts_before + 9

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT status, attempts, error FROM notifier_deliveries WHERE channel = 'email'")
    finally:
        await conn.close()
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 3)] * 3
    info = await bus.js.consumer_info("AUDIT", "notifier")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)  # every event acknowledged, none stuck
