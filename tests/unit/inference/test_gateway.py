"""The gateway app with a fake bus: answers, 4xx that name each wrong field, API keys, readiness, metrics."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from inference.gateway import create_app
from inference.model_holder import ModelHolder
from infra.settings import Settings
from schemas import PredictionMade, parse_event
from tests.unit.inference.models import memory_model, records


class FakeBus:
    def __init__(self):
        self.connected = True
        self.stored = {}

    async def publish_many(self, events):
        for event in events:  # decoded as every consumer will: the bytes must be a valid event
            self.stored[event.id] = parse_event(event.to_bytes(), (PredictionMade,))


def client(settings: Settings, bus=None, loaded=True) -> tuple[TestClient, FakeBus, ModelHolder]:
    bus = bus or FakeBus()
    holder = ModelHolder(settings)
    if loaded:
        holder.swap(memory_model(version="4"))
    return TestClient(create_app(settings, bus, holder)), bus, holder


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, gateway_max_body_bytes=64 * 1024, gateway_max_records=50)


def test_one_record_and_a_batch(settings):
    test, bus, _ = client(settings)
    with test:
        one = test.post("/predict", json={"features": records(1)[0], "request_id": "abc"})
        many = test.post("/predict", json={"records": records(3)})
        assert one.status_code == 200 and many.status_code == 200
    body = one.json()
    assert body["request_id"] == "abc" and body["model_version"] == "4" and body["model"] == "driftline-classifier"
    assert body["predicted_class"] in (0, 1) and set(body["probabilities"]) == {"0", "1"}
    ids = [p["request_id"] for p in many.json()["predictions"]]
    assert len(set(ids)) == 3 and many.json()["model_version"] == "4"
    events = list(bus.stored.values())  # the app's shutdown flushed the buffer
    assert len(events) == 4 and {e.data.channel for e in events} == {"http"}
    assert all(e.source == "inference/gateway" and e.correlation_id == e.id for e in events)
    assert "abc" in {e.data.request_id for e in events} and {e.data.model_version for e in events} == {"4"}


@pytest.mark.parametrize("body, status, where", [
    ({"features": {k: v for k, v in records(1)[0].items() if k != "mean radius"}}, 422, "body.features.mean radius"),
    ({"features": {**records(1)[0], "mean area": "big"}}, 422, "body.features.mean area"),
    ({"features": {**records(1)[0], "colour": 1}}, 422, "body.features.colour"),
    ({"features": records(1)[0], "debug": True}, 422, "body.debug"),
    ({"records": []}, 422, "body.records"),
    ({"records": records(51)}, 422, "body.records"),
])
def test_bad_requests_get_422_naming_the_field_and_the_gateway_keeps_serving(settings, body, status, where):
    test, bus, _ = client(settings)
    with test:
        response = test.post("/predict", json=body)
        assert response.status_code == status
        assert where in response.json()["message"]
        assert [".".join(map(str, d["loc"])) for d in response.json()["detail"]] == [where]
        assert test.post("/predict", json={"features": records(1)[0]}).status_code == 200
    assert len(bus.stored) == 1


def test_a_body_over_the_bound_gets_413_and_the_gateway_keeps_serving(settings):
    test, _, _ = client(settings)
    with test:
        response = test.post("/predict", content=b"x" * (10 * 1024 * 1024),
                             headers={"content-type": "application/json"})
        assert response.status_code == 413 and "over the limit" in response.json()["detail"]
        assert test.post("/predict", json={"features": records(1)[0]}).status_code == 200


def test_api_keys_any_configured_key_works(settings):
    keyed = Settings(**{**settings.model_dump(), "api_keys": ["k-old", "k-new"]})
    test, _, _ = client(keyed)
    rec = {"features": records(1)[0]}
    with test:
        assert test.post("/predict", json=rec).status_code == 401
        assert test.post("/predict", json=rec, headers={"X-API-Key": "k-wrong"}).status_code == 401
        assert test.post("/predict", json=rec, headers={"X-API-Key": ""}).status_code == 401
        assert test.post("/predict", json=rec, headers={"X-API-Key": "k-old"}).status_code == 200
        assert test.post("/predict", json=rec, headers={"X-API-Key": "k-new"}).status_code == 200
        assert test.get("/health").status_code == 200  # probes need no key


def test_ready_needs_a_model_and_the_bus(settings):
    bus = FakeBus()
    test, _, holder = client(settings, bus=bus, loaded=False)
    with test:
        assert test.get("/health").status_code == 200
        assert test.get("/ready").json()["model_loaded"] is False
        assert test.post("/predict", json={"features": records(1)[0]}).status_code == 503
        holder.swap(memory_model(version="5"))
        assert test.get("/ready").status_code == 200
        bus.connected = False
        assert test.get("/ready").status_code == 503
        assert test.post("/predict", json={"features": records(1)[0]}).status_code == 200  # served, event buffered


def test_metrics_in_prometheus_format(settings):
    test, _, _ = client(settings)
    with test:
        test.post("/predict", json={"features": records(1)[0]})
        test.post("/predict", json={"records": []})
        text = test.get("/metrics").text
    assert 'driftline_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert 'driftline_http_requests_total{method="POST",route="/predict",status="422"}' in text
    assert "driftline_http_request_duration_seconds_bucket" in text
    assert 'driftline_model_info{model="driftline-classifier",run_id="run-4",version="4"} 1.0' in text
    assert 'driftline_predictions_total{channel="http",model="driftline-classifier",predicted_class=' in text
    assert "driftline_prediction_events_dropped_total" in text


def test_openapi_documents_predict(settings):
    test, _, _ = client(settings)
    with test:
        spec = test.get("/openapi.json").json()
        assert test.get("/docs").status_code == 200
    assert "oneOf" in str(spec["paths"]["/predict"]["post"]["requestBody"])


def test_values_that_give_no_finite_probabilities_are_a_422_naming_the_record(settings):
    test, bus, _ = client(settings)
    good = records(2)
    extreme = {name: (1e308 if i % 2 else -1e308) for i, name in enumerate(good[0])}
    with test:
        response = test.post("/predict", json={"records": [good[0], extreme, good[1]]})
        single = test.post("/predict", json={"features": extreme})
        assert test.post("/predict", json={"records": good}).status_code == 200
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "records", 1]
    assert single.status_code == 422 and single.json()["detail"][0]["loc"] == ["body", "features"]
    assert "no finite probabilities" in response.json()["message"] and len(bus.stored) == 2
