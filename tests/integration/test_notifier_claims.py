"""The notifier claims a delivery, sends outside any transaction, then records and publishes the outcome: no
transaction is open while Slack is called, a crashed notifier's claim is taken over after its lease, a live claim
is waited for, and a send whose record failed is not sent again."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from aiohttp import web

from consumers.notifier.service import DeliveryInProgress, Notifier, action_id
from consumers.reports.audit_log import load_events
from infra.processes import free_port
from infra.settings import Settings
from schemas.action import ActionCompleted
from tests.integration.db_faults import fail_first
from tests.integration.notifier_fixtures import WebhookReceiver
from tests.unit.reports.story import story

pytestmark = pytest.mark.integration


class WatchingReceiver(WebhookReceiver):
    """A Slack receiver that, on every call, looks at the database from outside: the claim and open transactions."""

    def __init__(self, port: int, dsn: str):
        super().__init__(port)
        self.dsn, self.seen = dsn, []

    async def observe(self, request: web.Request) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            claims = await conn.fetch("SELECT event_id, status FROM notifier_deliveries")
            open_tx = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")
        finally:
            await conn.close()
        self.seen.append(([tuple(c) for c in claims], open_tx))


@pytest.fixture
async def stage(settings, bus, database_url):
    hook = WatchingReceiver(free_port(), database_url)
    await hook.start()
    settings = Settings(**{**settings.model_dump(), **dict(
        database_url=database_url, slack_webhook_url=hook.url, notify_retries=2, notify_backoff_s=[0.05],
        reports_auto=False, reports_log_mlflow=False)})
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)  # migrated by the fixture
    http = httpx.AsyncClient()
    yield Notifier(settings, bus, pool, http), hook, pool, bus
    await http.aclose()
    await pool.close()
    await hook.stop()


async def outcomes(bus, event_id: str) -> list:
    return [e for e in await load_events(bus.js, subjects=(ActionCompleted.topic,))
            if e.data.action_id == action_id(event_id, "slack")]


async def test_no_transaction_is_open_while_slack_is_called(stage):
    notifier, hook, pool, bus = stage
    alert = story()["alert"]
    await notifier.notify(alert)
    assert hook.seen == [([(alert.id, "pending")], 0)]  # the claim is committed, and nothing holds a transaction
    row = await pool.fetchrow("SELECT status, attempts, published FROM notifier_deliveries")
    assert tuple(row) == ("sent", 1, True)
    await notifier.notify(alert)  # redelivered: not sent again, not announced again
    assert len(hook.received) == 1 and len(await outcomes(bus, alert.id)) == 1


async def test_a_crashed_notifiers_claim_is_taken_over_and_a_live_one_is_waited_for(stage):
    notifier, hook, pool, bus = stage
    stale, live = story()["alert"], story()["alert"]
    for event, age in ((stale, "2 hours"), (live, "1 second")):
        await pool.execute("INSERT INTO notifier_deliveries (event_id, channel, event_type, severity, status,"
                           f" claimed_at) VALUES ($1, 'slack', $2, 'medium', 'pending', now() - interval '{age}')",
                           event.id, event.type)
    await notifier.notify(stale)
    assert len(hook.received) == 1 and len(await outcomes(bus, stale.id)) == 1
    with pytest.raises(DeliveryInProgress):  # the runner naks it: tried again after its backoff
        await notifier.notify(live)
    assert len(hook.received) == 1
    assert await pool.fetchval("SELECT status FROM notifier_deliveries WHERE event_id = $1", live.id) == "pending"


async def test_a_send_whose_record_failed_is_recorded_on_the_retry_without_sending_again(stage):
    notifier, hook, pool, bus = stage
    # The first outcome record fails.
    await fail_first(pool, "records", "BEFORE UPDATE OF status ON notifier_deliveries FOR EACH ROW"
                                      " WHEN (NEW.status <> 'pending')")
    alert = story()["alert"]
    with pytest.raises(asyncpg.RaiseError):
        await notifier.notify(alert)
    assert len(hook.received) == 1 and await outcomes(bus, alert.id) == []
    await notifier.notify(alert)  # the runner's retry
    assert len(hook.received) == 1
    assert tuple(await pool.fetchrow("SELECT status, published FROM notifier_deliveries")) == ("sent", True)
    assert len(await outcomes(bus, alert.id)) == 1
