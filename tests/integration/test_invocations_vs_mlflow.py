"""/invocations against the real `mlflow models serve` on the same registered version: the same requests, in each
of MLflow's input formats, get the same predictions; and each of ours is also a prediction event on the bus.

Two champions: the test fixture's logistic regression on breast cancer (numeric, served through the compiled fast
path) and the trainer's LightGBM on data with a space in a column name, a text category and text classes (served
through the model's own DataFrame path).
"""

from __future__ import annotations

import asyncio

import httpx
import pandas as pd
import pytest

from infra.bus import Bus
from infra.models import champion_version, configure_mlflow, load_run_frame
from tests.integration.served import API_KEY, serving
from tests.integration.stored import stored_events
from tests.model_fixtures import register_simple_model
from tests.unit.trainer.frames import mixed_frame

pytestmark = pytest.mark.integration
ROWS = 25


def trained_lightgbm(settings) -> str:
    from trainer.api import train

    csv = settings.data_dir.parent / "mixed.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    mixed_frame(300, seed=5).to_csv(csv, index=False)
    return train(settings, dataset=str(csv), target="label", families=["lightgbm"]).version


@pytest.fixture(scope="module", params=["breast_cancer_logistic", "mixed_lightgbm"])
def served(request, tmp_path_factory):
    register = register_simple_model if request.param == "breast_cancer_logistic" else trained_lightgbm
    with serving(tmp_path_factory.mktemp(request.param), register, mlflow=True) as served:
        configure_mlflow(served.settings)
        yield served


def rows(served) -> pd.DataFrame:
    """Complete rows of the champion's reference data, features only, in the signature's order."""
    settings = served.settings
    configure_mlflow(settings)
    mv = champion_version(settings)
    frame = load_run_frame(mv.run_id)
    target = "target" if "target" in frame.columns else "label"
    return frame.drop(columns=target).dropna().head(ROWS).reset_index(drop=True)


def bodies(frame: pd.DataFrame) -> dict[str, tuple[bytes | dict, str]]:
    records = frame.to_dict("records")
    columns = {name: frame[name].tolist() for name in frame.columns}
    return {
        "dataframe_split": ({"dataframe_split": frame.to_dict("split") | {"index": list(range(len(frame)))}}, ""),
        "dataframe_records": ({"dataframe_records": records}, ""),
        "instances (rows)": ({"instances": records}, ""),
        "instances (columns)": ({"instances": columns}, ""),
        "inputs (columns)": ({"inputs": columns}, ""),
        "inputs (rows)": ({"inputs": records}, ""),
        "csv": (frame.to_csv(index=False).encode(), "text/csv"),
    }


async def post(client: httpx.AsyncClient, url: str, body, content_type: str, key: bool) -> httpx.Response:
    headers = {"X-API-Key": API_KEY} if key else {}
    if content_type:
        return await client.post(url, content=body, headers={**headers, "content-type": content_type})
    return await client.post(url, json=body, headers=headers)


async def test_every_mlflow_input_format_gets_mlflows_predictions_and_each_is_an_event(served):
    frame = await asyncio.to_thread(rows, served)
    assert len(frame) == ROWS
    answers: dict[str, tuple[list, list]] = {}
    async with httpx.AsyncClient(timeout=60) as client:
        for name, (body, content_type) in bodies(frame).items():
            ours = await post(client, f"{served.gateway}/invocations", body, content_type, key=True)
            theirs = await post(client, f"{served.mlflow}/invocations", body, content_type, key=False)
            assert (ours.status_code, theirs.status_code) == (200, 200), (name, ours.text, theirs.text[:3000])
            assert set(ours.json()) == {"predictions"}  # MLflow's answer shape, nothing added
            answers[name] = ours.json()["predictions"], theirs.json()["predictions"]
        unkeyed = await client.post(f"{served.gateway}/invocations", json={"dataframe_records": frame.head(1).to_dict(
            "records")})
    for name, (ours, theirs) in answers.items():
        assert len(ours) == ROWS and ours == theirs, name
    assert len({tuple(ours) for ours, _ in answers.values()}) == 1  # every format reads the same rows
    assert unkeyed.status_code == 401 and unkeyed.json()["error_code"] == "UNAUTHENTICATED"

    bus = await Bus.connect(served.settings.resolved_nats_url)
    try:
        events = await stored_events(bus, "driftline.prediction.made", ROWS * len(answers))
    finally:
        await bus.close()
    assert {(e.data.model_version, e.data.channel, e.source) for e in events} == {
        (served.version, "http", "inference/gateway")}
    assert [e.data.features for e in events[:ROWS]] == frame.to_dict("records")  # the data's own names
    expected = answers["dataframe_split"][0]
    assert [e.data.predicted_class for e in events[:ROWS]] == expected


async def test_bad_invocations_are_400s_naming_the_field(served):
    frame = await asyncio.to_thread(rows, served)
    record = frame.head(1).to_dict("records")[0]
    first = frame.columns[0]
    cases = [
        ({"dataframe_records": [{k: v for k, v in record.items() if k != first}]}, f"dataframe_records.0.{first}"),
        ({"dataframe_split": {"data": [list(record.values())]}}, "dataframe_split.columns"),
        ({"dataframe_records": [record], "inputs": [record]}, "give exactly one of"),
        ({"inputs": {first: [1.0, 2.0], frame.columns[1]: [1.0]}}, "equally long lists"),
    ]
    async with httpx.AsyncClient(base_url=served.gateway, timeout=30, headers={"X-API-Key": API_KEY}) as client:
        for body, where in cases:
            response = await client.post("/invocations", json=body)
            assert response.status_code == 400 and response.json()["error_code"] == "BAD_REQUEST", body
            assert where in response.json()["message"], response.json()
        csv_bad = (pd.DataFrame([record]).assign(**{first: "abc"}).to_csv(index=False)).encode()
        response = await client.post("/invocations", content=csv_bad, headers={"content-type": "text/csv"})
        assert response.status_code == 400 and f"row.0.{first}" in response.json()["message"]
        response = await client.post("/invocations", content=b"<x/>", headers={"content-type": "application/xml"})
        assert response.status_code == 415
        extra = await client.post("/invocations", json={"dataframe_records": [{**record, "not a feature": 1}]})
        assert extra.status_code == 200  # as MLflow: columns the model does not use are ignored
