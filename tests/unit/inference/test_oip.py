"""Open Inference Protocol v2: tensors read into records (one per feature, or one matrix; JSON or Triton's binary
form), answers written (JSON or binary), errors named in {"error": ...}, health and metadata routes."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from inference.http_body import InvalidBody
from inference.oip_tensors import read_infer, write_infer
from infra.models import LoadedModel
from tests.unit.inference.models import memory_model, records
from tests.unit.inference.test_gateway import client

MODEL = LoadedModel(name="m", version="3", run_id="r", model=None, features=["x 1", "n", "city"],
                    feature_types={"x 1": "double", "n": "long", "city": "string"}, classes=["no", "yes"])
ROWS = [{"x 1": 1.5, "n": 3, "city": "Oslo"}, {"x 1": -2.0, "n": 4, "city": "Bergen"}]


def tensor(name, datatype, data, shape=None):
    return {"name": name, "datatype": datatype, "shape": shape or [len(data)], "data": data}


def per_feature() -> dict:
    return {"inputs": [tensor("x 1", "FP64", [1.5, -2.0]), tensor("n", "INT64", [3, 4]),
                       tensor("city", "BYTES", ["Oslo", "Bergen"])]}


def test_one_input_per_feature_in_any_order_or_one_nested_matrix():
    body = per_feature()
    body["inputs"].reverse()
    assert read_infer(orjson.dumps(body), None, MODEL, 10).records == ROWS
    numeric = LoadedModel(**{**MODEL.__dict__, "features": ["a", "b"], "feature_types": {"a": "double", "b": "double"}})
    matrix = {"inputs": [tensor("input-0", "FP32", [[1.0, 2.0], [3.0, 4.0]], shape=[2, 2])]}
    assert read_infer(orjson.dumps(matrix), None, numeric, 10).records == [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 4.0}]


def test_binary_tensors_after_the_json_header():
    strings = b"".join(struct.pack("<I", len(s)) + s for s in (b"Oslo", b"Bergen"))
    blobs = [np.array([1.5, -2.0], "<f8").tobytes(), np.array([3, 4], "<i8").tobytes(), strings]
    header = {"inputs": [{"name": n, "datatype": d, "shape": [2], "parameters": {"binary_data_size": len(b)}}
                         for (n, d), b in zip((("x 1", "FP64"), ("n", "INT64"), ("city", "BYTES")), blobs, strict=True)],
              "outputs": [{"name": "predict_proba", "parameters": {"binary_data": True}}], "id": "r-1"}
    head = orjson.dumps(header)
    request = read_infer(head + b"".join(blobs), str(len(head)), MODEL, 10)
    assert request.records == ROWS and request.outputs == ["predict_proba"] and request.binary == {"predict_proba"}
    from inference.model_holder import Prediction

    body, length = write_infer(request, MODEL, [Prediction("no", {"no": 0.75, "yes": 0.25}),
                                                Prediction("yes", {"no": 0.5, "yes": 0.5})], ["a", "b"])
    doc = orjson.loads(body[:length])
    assert doc["id"] == "r-1" and doc["parameters"]["request_ids"] == ["a", "b"]
    (out,) = doc["outputs"]
    assert out["shape"] == [2, 2] and np.frombuffer(body[length:], "<f8").tolist() == [0.75, 0.25, 0.5, 0.5]


@pytest.mark.parametrize("change, where", [
    (lambda b: b["inputs"].pop(0), "no input named 'x 1'"),
    (lambda b: b["inputs"].append(tensor("colour", "BYTES", ["a", "b"])), "no feature named 'colour'"),
    (lambda b: b["inputs"][0].update(shape=[3]), "shape [3] holds 3 values, got 2"),
    (lambda b: b["inputs"][0].update(datatype="FLOAT"), "inputs.0.datatype"),
    (lambda b: b["inputs"][0].update(datatype={}), "inputs.0.datatype"),
    (lambda b: b["inputs"][1].update(data=[3, "four"]), "records.1.n: expected an integer"),
    (lambda b: b["inputs"][0].update(data=5), "inputs.0.data"),
    (lambda b: b["inputs"][0].update(parameters=[1]), "inputs.0.parameters"),
    (lambda b: b.update(outputs=[{"name": "logits"}]), "outputs"),
    (lambda b: b.update(parameters={"request_ids": ["a"]}), "parameters.request_ids"),
    (lambda b: b.update(inputs=[{**b["inputs"][0], "name": {"a": 1}}]), "expected a tensor object with a name"),
])
def test_bad_requests_name_what_is_wrong(change, where):
    body = per_feature()
    change(body)
    with pytest.raises(InvalidBody) as caught:
        read_infer(orjson.dumps(body), None, MODEL, 10)
    assert any(where in ".".join(map(str, e.loc)) + ": " + e.msg for e in caught.value.errors), caught.value.errors


def test_routes_health_metadata_inference_and_errors(tmp_path):
    from infra.settings import Settings

    test, bus, holder = client(Settings(data_dir=tmp_path, api_keys=["k"]), loaded=False)
    rows = records(3)
    body = {"inputs": [tensor(name, "FP64", [r[name] for r in rows]) for name in rows[0]]}
    with test:
        assert test.get("/v2/health/live").json() == {"live": True}
        assert test.get("/v2/health/ready").status_code == 400  # no model yet: false is a 4xx
        assert test.get("/v2/models/driftline-classifier/ready").json() == {"name": "driftline-classifier",
                                                                           "ready": False}
        holder.swap(memory_model(version="4"))
        assert test.get("/v2/health/ready").json() == {"ready": True}
        meta = test.get("/v2/models/driftline-classifier/versions/4").json()
        assert [i["name"] for i in meta["inputs"]] == list(rows[0]) and meta["outputs"][0]["datatype"] == "INT64"
        answer = test.post("/v2/models/driftline-classifier/infer", json=body, headers={"X-API-Key": "k"})
        one = test.post("/predict", json={"records": rows}, headers={"X-API-Key": "k"})
        wrong = {"/v2/models/other/infer": 404, "/v2/models/driftline-classifier/versions/3/infer": 404}
        statuses = {path: test.post(path, json=body, headers={"X-API-Key": "k"}) for path in wrong}
        unkeyed = test.post("/v2/models/driftline-classifier/infer", json=body)
        bad = test.post("/v2/models/driftline-classifier/infer", json={"inputs": []}, headers={"X-API-Key": "k"})
    outputs = {o["name"]: o for o in answer.json()["outputs"]}
    assert outputs["predict"]["data"] == [p["predicted_class"] for p in one.json()["predictions"]]
    assert outputs["predict_proba"]["data"] == [v for p in one.json()["predictions"]
                                                for v in p["probabilities"].values()]
    assert {path: r.status_code for path, r in statuses.items()} == wrong
    assert "not served; the champion is version 4" in statuses["/v2/models/driftline-classifier/versions/3/infer"].json()[
        "error"]
    assert unkeyed.status_code == 401 and set(unkeyed.json()) == {"error"}
    assert bad.status_code == 400 and "inputs" in bad.json()["error"]
    events = list(bus.stored.values())
    assert len(events) == 6 and {e.data.model_version for e in events} == {"4"}
