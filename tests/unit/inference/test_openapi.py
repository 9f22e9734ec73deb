"""The OpenAPI document speaks the champion's language: its input schema (names, types, an example row), its
classes, every status code each route answers, and it follows a promotion."""

from __future__ import annotations

import dataclasses

from infra.models import LoadedModel
from infra.settings import Settings
from tests.unit.inference.models import memory_model, records
from tests.unit.inference.test_gateway import client


def schemas(doc: dict) -> dict:
    return doc["components"]["schemas"]


def statuses(doc: dict, path: str, method: str) -> set[str]:
    return set(doc["paths"][path][method]["responses"])


def test_the_document_carries_the_champions_input_schema_example_and_classes(tmp_path):
    test, _, holder = client(Settings(data_dir=tmp_path, api_keys=["k"]))
    example = records(1)[0]
    holder.swap(dataclasses.replace(memory_model(version="4"), example=example))
    with test:
        doc = test.get("/openapi.json").json()
        assert test.get("/docs").status_code == 200
    features = schemas(doc)["Features"]
    assert list(features["properties"]) == list(example) and features["required"] == list(example)
    assert features["properties"]["mean radius"]["type"] == "number" and features["additionalProperties"] is False
    assert features["example"] == example
    assert "version 4" in features["description"]
    assert schemas(doc)["Prediction"]["properties"]["predicted_class"]["enum"] == [0, 1]
    assert list(schemas(doc)["Probabilities"]["properties"]) == ["0", "1"]
    csv_example = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]["text/csv"]["example"]
    assert csv_example.startswith("mean radius,mean texture,")


def test_every_status_each_route_answers_is_declared(tmp_path):
    test, _, _ = client(Settings(data_dir=tmp_path, api_keys=["k"]))
    with test:
        doc = test.get("/openapi.json").json()
    assert statuses(doc, "/predict", "post") == {"200", "401", "413", "422", "503"}
    assert statuses(doc, "/invocations", "post") == {"200", "400", "401", "413", "415", "503"}
    assert statuses(doc, "/v2/models/{name}/infer", "post") == {"200", "400", "401", "404", "413", "503"}
    assert statuses(doc, "/ready", "get") == {"200", "503"} and statuses(doc, "/model", "get") == {"200", "503"}
    assert set(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert doc["paths"]["/predict"]["post"]["security"] == [{"APIKey": []}]


def test_without_keys_no_key_is_documented(tmp_path):
    test, _, _ = client(Settings(data_dir=tmp_path))
    with test:
        doc = test.get("/openapi.json").json()
    assert "401" not in statuses(doc, "/predict", "post") and "security" not in doc["paths"]["/predict"]["post"]
    assert "securitySchemes" not in doc.get("components", {})


def test_the_document_follows_a_promotion(tmp_path):
    test, _, holder = client(Settings(data_dir=tmp_path))
    with test:
        before = test.get("/openapi.json").json()
        holder.swap(LoadedModel(name="driftline-classifier", version="9", run_id="r9", model=memory_model().model,
                                features=["age [years]", "colour"], classes=["no", "yes"],
                                feature_types={"age [years]": "long", "colour": "string"}))
        after = test.get("/openapi.json").json()
    assert "mean radius" in schemas(before)["Features"]["properties"]
    props = schemas(after)["Features"]["properties"]
    assert list(props) == ["age [years]", "colour"] and props["age [years]"]["format"] == "int64"
    assert props["colour"] == {"type": "string"}
    assert schemas(after)["Prediction"]["properties"]["predicted_class"]["enum"] == ["no", "yes"]
    name_param = after["paths"]["/v2/models/{name}/versions/{version}/infer"]["post"]["parameters"]
    assert [p["schema"]["enum"] for p in name_param] == [["driftline-classifier"], ["9"]]
