"""/invocations, MLflow's scoring protocol: the four JSON formats and CSV read the same rows, the answer has
MLflow's shape, errors are MLflow's shape naming the field, and every prediction is an event like /predict's."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from inference.http_body import InvalidBody
from inference.mlflow_body import parse_invocations
from inference.serving import Refused
from tests.unit.inference.models import memory_model, records
from tests.unit.inference.test_gateway import client

TYPES = {"x 1": "double", "n": "long", "flag": "boolean", "city": "string"}
ROW = {"x 1": 1.5, "n": 3, "flag": True, "city": "Oslo"}


@pytest.fixture
def settings(tmp_path):
    from infra.settings import Settings

    return Settings(data_dir=tmp_path, gateway_max_records=50, api_keys=["k"])


def formats(rows: list[dict]) -> dict[str, dict]:
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    return {"split": {"dataframe_split": {"columns": list(rows[0]), "data": [list(r.values()) for r in rows]}},
            "records": {"dataframe_records": rows}, "instances": {"instances": rows},
            "instances-columns": {"instances": columns}, "inputs": {"inputs": columns}, "inputs-rows": {"inputs": rows}}


@pytest.mark.parametrize("name", list(formats([ROW])))
def test_every_json_format_reads_the_same_typed_rows(name):
    body = formats([ROW, {**ROW, "n": 4}])[name]
    import orjson

    got, ids = parse_invocations(orjson.dumps(body), "application/json; charset=utf-8", TYPES, 10)
    assert got == [ROW, {**ROW, "n": 4}] and ids == [None, None]


def test_csv_cells_take_their_columns_types():
    text = 'x 1,n,flag,city,unused\n1.5,3,True,Oslo,x\n2,4,false,"Bergen, west",y\n'
    got, _ = parse_invocations(text.encode(), "text/csv", TYPES, 10)
    assert got == [ROW, {"x 1": 2.0, "n": 4, "flag": False, "city": "Bergen, west"}]  # unused column ignored


@pytest.mark.parametrize("body, content_type, where", [
    (b'{"dataframe_records": [{"x 1": 1.5, "n": 3, "flag": true}]}', "application/json", "dataframe_records.0.city"),
    (b'{"dataframe_split": {"data": [[1.5, 3, true, "a"]]}}', "application/json", "dataframe_split.columns"),
    (b'{"dataframe_split": {"columns": ["x 1"], "data": [[1, 2]]}}', "application/json", "dataframe_split.data.0"),
    (b'{"instances": [], "inputs": []}', "application/json", "give exactly one of"),
    (b'{"dataframe_records": []}', "application/json", "at least one"),
    (b'{"inputs": {"x 1": [1.0, 2.0], "n": [1]}}', "application/json", "equally long lists"),
    (b'{"dataframe_records": [{"x 1": "1.5", "n": 3, "flag": true, "city": "a"}]}', "application/json",
     "dataframe_records.0.x 1"),
    (b'{"dataframe_records": [{"x 1": 1.5, "n": 3, "flag": true, "city": "a"}], "params": {"request_ids": [""]}}',
     "application/json", "params.request_ids"),
    (b"x 1,n,flag,city\nabc,3,True,Oslo\n", "text/csv", "row.0.x 1"),
    (b"x 1,n\n1.0\n", "text/csv", "row.0"),
    (b"[1, 2]", "application/json", "one of dataframe_split"),
])
def test_bad_bodies_name_the_field(body, content_type, where):
    with pytest.raises(InvalidBody) as caught:
        parse_invocations(body, content_type, TYPES, 10)
    assert any(where in ".".join(map(str, e.loc)) + ": " + e.msg for e in caught.value.errors), caught.value.errors


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json; charset=latin-1",
                                          "text/csv; header=absent"])
def test_media_types_mlflow_does_not_take_are_415(content_type):
    with pytest.raises(Refused) as caught:
        parse_invocations(b"{}", content_type, TYPES, 10)
    assert caught.value.status == 415


def test_the_route_answers_as_mlflow_and_publishes_events(settings):
    test, bus, _ = client(settings)
    rows = records(4)
    with test:
        answers = [test.post("/invocations", json=body, headers={"X-API-Key": "k"}) for body in formats(rows).values()]
        csv = test.post("/invocations", content=pd.DataFrame(rows).to_csv(index=False),
                        headers={"X-API-Key": "k", "content-type": "text/csv"})
        one = test.post("/predict", json={"records": rows}, headers={"X-API-Key": "k"})
        named = test.post("/invocations", json={"dataframe_records": rows[:2], "params": {"request_ids": ["a", "b"]}},
                          headers={"X-API-Key": "k"})
        unkeyed = test.post("/invocations", json={"dataframe_records": rows})
        missing = test.post("/invocations", json={"dataframe_records": [{k: v for k, v in rows[0].items()
                                                                         if k != "mean radius"}]},
                            headers={"X-API-Key": "k"})
    expected = [p["predicted_class"] for p in one.json()["predictions"]]
    for answer in [*answers, csv]:
        assert answer.status_code == 200 and answer.json() == {"predictions": expected}
    assert named.json() == {"predictions": expected[:2]}
    assert unkeyed.status_code == 401 and unkeyed.json()["error_code"] == "UNAUTHENTICATED"
    assert missing.status_code == 400 and missing.json()["error_code"] == "BAD_REQUEST"
    assert missing.json()["detail"][0]["loc"] == ["body", "dataframe_records", 0, "mean radius"]
    events = list(bus.stored.values())
    assert len(events) == 4 * 8 + 2 and {e.data.channel for e in events} == {"http"}
    assert {"a", "b"} <= {e.data.request_id for e in events}


def test_a_model_logged_to_answer_probabilities_answers_them(settings):
    test, _, holder = client(settings)
    holder.swap(dataclasses.replace(memory_model(version="5"), predict_fn="predict_proba"))
    with test:
        answer = test.post("/invocations", json={"dataframe_records": records(2)}, headers={"X-API-Key": "k"})
        one = test.post("/predict", json={"features": records(1)[0]}, headers={"X-API-Key": "k"})
    assert answer.json()["predictions"][0] == list(one.json()["probabilities"].values())
