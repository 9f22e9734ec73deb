"""A real Alertmanager (Debian's prometheus-alertmanager) routes an alert to our webhook, which publishes it."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import SecretStr

from infra.processes import free_port, spawn, stop, wait_for_port
from producers.webhooks import build_router
from tests.integration.monitor_helpers import audit_events, wait_for

pytestmark = pytest.mark.integration
CONFIG = Path(__file__).resolve().parents[2] / "infra" / "prometheus" / "alertmanager.yml"


async def serve(app: FastAPI, port: int):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    return server, task


def alertmanager(tmp_path: Path, hook_port: int, token: str):
    """Our shipped route, pointed at a test port and token file, with no grouping delay."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is not installed (bash scripts/install.sh --test installs it)")
    (tmp_path / "token").write_text(token)
    text = CONFIG.read_text().replace("http://127.0.0.1:8000", f"http://127.0.0.1:{hook_port}")
    text = text.replace("/etc/driftline/alertmanager_token", str(tmp_path / "token"))
    text = text.replace("group_wait: 10s", "group_wait: 0s").replace("group_interval: 1m", "group_interval: 1s")
    (tmp_path / "am.yml").write_text(text)
    port = free_port()
    proc = spawn([binary, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am-data'}",
                  f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                 log_path=tmp_path / "alertmanager.log")
    wait_for_port("127.0.0.1", port, 30, proc, "alertmanager")
    return proc, f"http://127.0.0.1:{port}"


def alert(name: str, model: str) -> list[dict]:
    return [{"labels": {"alertname": name, "kind": "consumer_lag", "model": model, "severity": "medium"},
             "annotations": {"summary": "monitor is 50000 messages behind", "value": "50000", "threshold": "10000"},
             "startsAt": datetime.now(UTC).isoformat(), "generatorURL": "http://prometheus/graph"}]


@pytest.mark.parametrize("token_sent", ["am-token", "wrong-token"])
async def test_alertmanager_delivers_to_the_webhook(settings, bus, tmp_path, token_sent):
    settings = settings.model_copy(update=dict(alertmanager_token=SecretStr("am-token")))
    app = FastAPI()
    app.include_router(build_router(settings, bus))
    hook_port = free_port()
    server, task = await serve(app, hook_port)
    proc, am_url = alertmanager(tmp_path, hook_port, token_sent)
    refused = lambda: REGISTRY.get_sample_value(  # noqa: E731
        "driftline_webhook_refused_total", {"source": "alertmanager", "reason": "bad token"}) or 0.0
    before = refused()
    try:
        async with httpx.AsyncClient() as client:
            posted = await client.post(f"{am_url}/api/v2/alerts", json=alert("DriftlineConsumerLagHigh", "m"))
            assert posted.status_code == 200
        if token_sent == "am-token":
            (event,) = await wait_for(lambda: audit_events(bus, "driftline.alert.>"), timeout=60)
            assert (event.data.kind, event.data.model, event.data.statistic, event.data.threshold) == (
                "consumer_lag", "m", "DriftlineConsumerLagHigh", 10000.0)
            assert event.data.detector == "alertmanager:DriftlineConsumerLagHigh"
            assert event.data.fingerprint.startswith("alertmanager:")
        else:
            await wait_for(lambda: asyncio.sleep(0, refused() > before), timeout=60)
            assert await audit_events(bus, "driftline.alert.>") == []
    finally:
        stop(proc)
        server.should_exit = True
        await task
