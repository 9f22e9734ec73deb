"""The webhook router on its own FastAPI app with a real bus: Alertmanager token, Evidently HMAC, refusals counted."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import SecretStr

from infra.webhook_signing import signature
from producers.webhooks import build_router
from tests.integration.monitor_helpers import audit_events

pytestmark = pytest.mark.integration
SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHM="


@pytest.fixture
async def client(settings, bus):
    settings = settings.model_copy(update=dict(alertmanager_token=SecretStr("am-token"),
                                               evidently_webhook_secret=SecretStr(SECRET)))
    app = FastAPI()
    app.include_router(build_router(settings, bus))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


def refused(source: str, reason: str) -> float:
    return REGISTRY.get_sample_value("driftline_webhook_refused_total", {"source": source, "reason": reason}) or 0.0


def am_payload(status="firing"):
    return {"version": "4", "status": status, "receiver": "driftline-gateway", "groupKey": "{}:{}",
            "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am", "alerts": [{
                "status": status, "fingerprint": "abc123", "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph",
                "labels": {"alertname": "DriftlineDriftShareHigh", "kind": "data_drift", "model": "m"},
                "annotations": {"summary": "40% drifted", "value": "0.4", "threshold": "0.25"}}]}


def signed(body: bytes, webhook_id="msg_1", stamp=None, secret=SECRET):
    stamp = int(time.time()) if stamp is None else stamp
    return {"webhook-id": webhook_id, "webhook-timestamp": str(stamp),
            "webhook-signature": signature(secret, webhook_id, stamp, body), "content-type": "application/json"}


async def test_alertmanager_with_token_publishes_raised_then_cleared(client, bus):
    auth = {"authorization": "Bearer am-token"}
    first = await client.post("/webhooks/alertmanager", json=am_payload(), headers=auth)
    again = await client.post("/webhooks/alertmanager", json=am_payload(), headers=auth)  # Alertmanager retries
    assert first.status_code == 200 and first.json()["published"] == 1
    assert again.json() == {"published": 0, "events": first.json()["events"]}
    await client.post("/webhooks/alertmanager", json=am_payload("resolved"), headers=auth)
    events = await audit_events(bus, "driftline.alert.>")
    raised, cleared = events
    assert (raised.data.kind, raised.data.model, raised.data.statistic, raised.data.value) == (
        "data_drift", "m", "DriftlineDriftShareHigh", 0.4)
    assert raised.data.labels["alertname"] == "DriftlineDriftShareHigh"
    assert cleared.data.alert_id == raised.id


async def test_alertmanager_without_the_token_is_refused_and_counted(client, bus):
    before = refused("alertmanager", "bad token")
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "am-token"}):
        response = await client.post("/webhooks/alertmanager", json=am_payload(), headers=headers)
        assert response.status_code == 401
    assert refused("alertmanager", "bad token") == before + 3
    assert await audit_events(bus, "driftline.alert.>") == []


async def test_evidently_signed_call_publishes_an_alert(client, bus):
    body = json.dumps({"model": "m", "kind": "data_drift", "features": ["mean_radius"], "statistic": "share",
                       "value": 0.6, "threshold": 0.5, "preset": "DataDriftPreset"}).encode()
    response = await client.post("/webhooks/evidently", content=body, headers=signed(body))
    assert response.status_code == 200
    (event,) = await audit_events(bus, "driftline.alert.>")
    assert (event.data.features, event.data.detector, event.data.details["preset"]) == (
        ["mean_radius"], "evidently", "DataDriftPreset")


async def test_evidently_forged_stale_and_replayed_calls_are_refused_and_counted(client, bus):
    body = b'{"model": "m", "features": ["x"]}'
    counts = {r: refused("evidently", r) for r in ("bad signature", "stale", "replayed", "unsigned")}
    forged = signed(body, secret="whsec_" + "b3RoZXIta2V5")
    assert (await client.post("/webhooks/evidently", content=body, headers=forged)).status_code == 401
    tampered = signed(body)
    assert (await client.post("/webhooks/evidently", content=body + b" ", headers=tampered)).status_code == 401
    stale = signed(body, webhook_id="msg_old", stamp=int(time.time()) - 301)
    assert (await client.post("/webhooks/evidently", content=body, headers=stale)).status_code == 401
    assert (await client.post("/webhooks/evidently", content=body)).status_code == 401
    good = signed(body, webhook_id="msg_2")
    assert (await client.post("/webhooks/evidently", content=body, headers=good)).status_code == 200
    assert (await client.post("/webhooks/evidently", content=body, headers=good)).status_code == 401
    assert {r: refused("evidently", r) - counts[r] for r in counts} == {
        "bad signature": 2, "stale": 1, "replayed": 1, "unsigned": 1}
    assert len(await audit_events(bus, "driftline.alert.>")) == 1
