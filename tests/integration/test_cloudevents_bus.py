"""An event built by the official CloudEvents SDK, with optional attributes and extensions, published on the real bus:
a consumer handles it (the diagnoser answers it) and nothing is dead-lettered."""

from __future__ import annotations

import asyncpg
import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from infra.bus import CONTENT_TYPE, MSG_ID
from schemas import AlertRaised, DiagnosisMade, new_id
from schemas.streams import AUDIT, DLQ
from tests.integration.agent_helpers import Watch, running_agent
from tests.unit.agent.alerts import alert

pytestmark = pytest.mark.integration


@pytest.fixture
async def agent_settings(settings, database_url):
    conn = await asyncpg.connect(database_url)
    await conn.close()
    return settings.model_copy(update={"database_url": database_url, "agent_expiry_interval_s": 3600})


async def test_an_sdk_event_with_extensions_is_handled_not_dead_lettered(bus, agent_settings):
    data = alert(value=0.45).model_dump(mode="json")["data"]
    chain = new_id()
    sdk = CloudEvent({
        "id": new_id(), "type": AlertRaised.type_name(), "source": "https://monitoring.example.com/watcher",
        "subject": "driftline-classifier", "datacontenttype": "application/json",
        "dataschema": "https://schemas.example.com/driftline.alert.raised.v1.json", "correlationid": chain,
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "comexampleprioritylevel": 2,
    }, data)
    watch = await Watch().start(bus)
    try:
        async with running_agent(agent_settings):
            await bus.publish_raw(AlertRaised.topic, JSONFormat().write(sdk), {MSG_ID: sdk.get_id()})
            [diagnosis] = await watch.wait(DiagnosisMade)
    finally:
        await watch.stop()
    assert diagnosis.causation_id == sdk.get_id()  # an alert opens its own incident, so that is the correlation
    [seen] = watch.of(AlertRaised)
    assert (seen.correlation_id, seen.dataschema) == (chain, sdk.get_dataschema())
    assert seen.extensions == {"traceparent": sdk.get_extension("traceparent"), "comexampleprioritylevel": 2}
    assert (await bus.js.stream_info(DLQ.name)).state.messages == 0
    stored = await bus.js.get_last_msg(AUDIT.name, DiagnosisMade.topic)
    assert stored.headers[CONTENT_TYPE] == "application/cloudevents+json"  # structured mode, said as the binding asks
