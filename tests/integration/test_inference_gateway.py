"""The gateway on a real nats-server and MLflow registry: events stored, bad requests survived, hot promotion."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
import uvicorn

from inference.gateway import create_app
from inference.model_holder import ModelHolder
from infra.champion import ChampionFollower
from infra.models import CHALLENGER, CHAMPION, configure_mlflow, load_run_frame
from infra.processes import free_port
from infra.settings import Settings
from schemas import ModelPromoted
from tests.integration.stored import stored_events
from tests.model_fixtures import register_simple_model
from tests.unit.inference.models import records

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> tuple[object, str, str]:
    """One MLflow store for the module (registering is slow): v1 champion, v2 challenger."""
    data_dir = tmp_path_factory.mktemp("registry")
    settings = Settings(data_dir=data_dir)
    v1 = register_simple_model(settings)
    v2 = register_simple_model(settings, alias=CHALLENGER, C=0.01, seed=1)
    return data_dir, v1, v2


@pytest.fixture
def settings(registry, nats_server) -> Settings:
    from mlflow import MlflowClient

    data_dir, v1, _ = registry
    settings = Settings(data_dir=data_dir, nats_url=nats_server.url)
    configure_mlflow(settings)
    MlflowClient().set_registered_model_alias(settings.model_name, CHAMPION, v1)
    return settings


@contextlib.asynccontextmanager
async def gateway(settings, bus):
    """The gateway app served by uvicorn in this process, following promotions on the bus."""
    holder = ModelHolder(settings)
    assert await holder.load_alias()
    follower = ChampionFollower(bus, settings.model_name, holder.follow, poll_s=3600)
    await follower.subscribe()
    stop = asyncio.Event()
    reload_task = asyncio.create_task(follower.run(stop))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, bus, holder), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    serve_task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client, holder
    finally:
        server.should_exit = True
        await serve_task
        stop.set()
        await reload_task


async def test_bad_requests_get_4xx_the_gateway_keeps_serving_and_every_prediction_is_stored(settings, bus, registry):
    version = registry[1]
    good = records(1)[0]
    bad_bodies = [
        {"features": {k: v for k, v in good.items() if k != "mean radius"}},
        {"features": {**good, "mean area": "big"}},
        {"features": {**good, "unknown": 1.0}},
        {"records": []},
    ]
    async with gateway(settings, bus) as (client, _):
        statuses = []
        for i, body in enumerate(bad_bodies):
            statuses.append((await client.post("/predict", json=body)).status_code)
            assert (await client.post("/predict", json={"features": good, "request_id": f"g{i}"})).status_code == 200
        huge = await client.post("/predict", content=b"[" + b"1," * (5 * 1024 * 1024) + b"1]",
                                 headers={"content-type": "application/json"})
        batch = await client.post("/predict", json={"records": records(3), "request_ids": ["b0", "b1", "b2"]})
        ready = (await client.get("/ready")).json()
    assert statuses == [422, 422, 422, 422] and huge.status_code == 413 and batch.status_code == 200
    assert ready["ready"] and ready["model_version"] == version
    events = await stored_events(bus, "driftline.prediction.made", 7)
    assert sorted(e.data.request_id for e in events) == ["b0", "b1", "b2", "g0", "g1", "g2", "g3"]
    assert {(e.data.model_version, e.data.channel, e.source) for e in events} == {(version, "http",
                                                                                   "inference/gateway")}


async def test_a_promotion_under_load_switches_versions_without_a_failed_request(settings, bus, registry):
    from mlflow import MlflowClient

    _, v1, v2 = registry
    rows = records(50)
    results: list[tuple[bool, int, str | None]] = []  # (sent after the swap, status, version)
    stop_load = asyncio.Event()

    async with gateway(settings, bus) as (client, holder):
        async def load(worker: int) -> None:
            i = worker
            while not stop_load.is_set():
                after_swap = holder.version != v1
                try:
                    response = await client.post("/predict", json={"features": rows[i % len(rows)]})
                    version = response.json().get("model_version") if response.status_code == 200 else None
                    results.append((after_swap, response.status_code, version))
                except httpx.HTTPError as exc:
                    results.append((after_swap, 0, repr(exc)))
                i += 8

        doc_before = (await client.get("/openapi.json")).json()
        clients = [asyncio.create_task(load(w)) for w in range(8)]
        while len(results) < 100:  # under load before the switch
            await asyncio.sleep(0.02)
        # What the agent's executor does: move the alias, then announce it.
        await asyncio.to_thread(MlflowClient().set_registered_model_alias, settings.model_name, CHAMPION, v2)
        await bus.publish(ModelPromoted(source="test", subject=settings.model_name, data=dict(
            model=settings.model_name, version=v2, previous_version=v1, reason="test promotion")))
        async with asyncio.timeout(60):
            while sum(1 for after, _, _ in results if after) < 200:
                await asyncio.sleep(0.05)
        stop_load.set()
        await asyncio.gather(*clients)
        doc_after = (await client.get("/openapi.json")).json()

    assert v2 != v1 and holder.version == v2
    failed = [r for r in results if r[1] != 200]
    assert failed == []
    before = {version for after, _, version in results if not after}
    after = {version for after, _, version in results if after}
    assert v1 in before and before <= {v1, v2}  # some answered by v2 once it was swapped in mid-request
    assert after == {v2}  # every request sent after the swap was answered by the new version
    # The OpenAPI document follows the champion: its input schema, with an example row of its reference data.
    before_doc, after_doc = (d["components"]["schemas"]["Features"] for d in (doc_before, doc_after))
    assert f"version {v1}:" in before_doc["description"] and f"version {v2}:" in after_doc["description"]
    reference = load_run_frame(holder.current.run_id).drop(columns="target").dropna()
    assert after_doc["example"] == reference.iloc[0].to_dict() and list(after_doc["properties"]) == list(reference)


async def test_while_the_bus_is_down_predictions_are_served_and_their_events_published_later(settings, bus,
                                                                                          nats_server):
    good = records(1)[0]
    async with gateway(settings, bus) as (client, _):
        for i in range(3):
            assert (await client.post("/predict", json={"features": good, "request_id": f"up-{i}"})).status_code == 200
        nats_server.stop()
        async with asyncio.timeout(20):
            while bus.connected:
                await asyncio.sleep(0.05)
        for i in range(4):
            response = await client.post("/predict", json={"features": good, "request_id": f"down-{i}"})
            assert response.status_code == 200  # the caller never waits for the bus
        down = await client.get("/ready")
        assert down.status_code == 503 and down.json()["bus_connected"] is False
        assert down.json()["events_buffered"] >= 4
        nats_server.start()
        async with asyncio.timeout(30):
            while (await client.get("/ready")).status_code != 200 or (await client.get("/ready")).json()[
                    "events_buffered"]:
                await asyncio.sleep(0.1)
        assert (await client.get("/ready")).json()["events_dropped"] == 0
    events = await stored_events(bus, "driftline.prediction.made", 7)
    assert sorted(e.data.request_id for e in events) == [f"down-{i}" for i in range(4)] + [f"up-{i}" for i in
                                                                                          range(3)]


async def test_a_model_registered_under_the_old_cleaned_names_keeps_serving_them(bus, tmp_path, nats_server):
    settings = Settings(data_dir=tmp_path / "legacy", nats_url=nats_server.url)
    version = await asyncio.to_thread(register_simple_model, settings, legacy_names=True)
    legacy = {name.replace(" ", "_"): value for name, value in records(1)[0].items()}
    async with gateway(settings, bus) as (client, holder):
        served = await client.post("/predict", json={"features": legacy})
        renamed = await client.post("/predict", json={"features": records(1)[0]})
        doc = (await client.get("/openapi.json")).json()
    assert holder.version == version and served.status_code == 200
    assert renamed.status_code == 422 and "body.features.mean_radius: field required" in renamed.json()["message"]
    assert "mean_radius" in doc["components"]["schemas"]["Features"]["required"]  # its input schema says so
