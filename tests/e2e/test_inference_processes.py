"""`driftline serve gateway` and `driftline serve worker` as their own processes: both answer with the champion,
and one promotion event makes every serving process switch to the new version."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from infra.models import CHALLENGER, CHAMPION
from infra.processes import free_port, spawn, stop
from producers.publisher import request_and_wait
from schemas import ModelPromoted, PredictionMade
from tests.model_fixtures import register_simple_model
from tests.unit.inference.models import records

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


async def until(check, timeout: float = 120.0):
    async with asyncio.timeout(timeout):
        while True:
            try:
                value = await check()
                if value:
                    return value
            except (httpx.HTTPError, TimeoutError):
                pass
            await asyncio.sleep(0.2)


async def test_gateway_and_worker_processes_serve_and_switch_on_one_promotion(settings, bus, tmp_path):
    v1 = await asyncio.to_thread(register_simple_model, settings)
    v2 = await asyncio.to_thread(register_simple_model, settings, alias=CHALLENGER, C=0.01, seed=1)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(DRIFTLINE_DATA_DIR=str(settings.data_dir), DRIFTLINE_NATS_URL=settings.nats_url,
               DRIFTLINE_GATEWAY_PORT=str(port), DRIFTLINE_MODEL_POLL_S="3600")
    procs = [spawn([sys.executable, "-m", "driftline", "serve", name], cwd=ROOT, env=env,
                   log_path=tmp_path / f"{name}.log") for name in ("gateway", "worker")]
    record = records(1)[0]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            async def versions() -> tuple[str, str] | None:
                response = await client.post("/predict", json={"features": record})
                if response.status_code != 200:  # 503 until the process has loaded the champion
                    return None
                http = response.json()["model_version"]
                bus_answer = await request_and_wait(bus, record, model=settings.model_name, timeout=2)
                return http, bus_answer.data.model_version

            assert await until(versions) == (v1, v1)
            await asyncio.to_thread(MlflowClient().set_registered_model_alias, settings.model_name, CHAMPION, v2)
            await bus.publish(ModelPromoted(source="test", subject=settings.model_name, data=dict(
                model=settings.model_name, version=v2, previous_version=v1, reason="e2e promotion")))

            async def switched() -> bool:
                return await versions() == (v2, v2)

            await until(switched)
            answer = await request_and_wait(bus, record, model=settings.model_name)
            assert isinstance(answer, PredictionMade) and answer.data.model_version == v2
            metrics = (await client.get("/metrics")).text
            assert f'driftline_model_info{{model="{settings.model_name}",run_id=' in metrics
            assert f'version="{v2}"}} 1.0' in metrics
    finally:
        for proc in procs:
            stop(proc)
