"""The Open Inference Protocol v2 routes called by a client this project did not write: NVIDIA's `tritonclient`
(HTTP, asyncio flavour), in its default binary tensor mode and in plain JSON, against `driftline serve gateway`."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import tritonclient.http.aio as triton
from tritonclient.utils import InferenceServerException

from infra.bus import Bus
from tests.integration.served import API_KEY, serving
from tests.integration.stored import stored_events
from tests.model_fixtures import breast_cancer_frame, register_simple_model

pytestmark = pytest.mark.integration


def key() -> dict:
    """A fresh headers dict per call: tritonclient writes its Inference-Header-Content-Length into the one given."""
    return {"X-API-Key": API_KEY}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("oip"), register_simple_model) as served:
        yield served


def expected(served, frame) -> tuple[np.ndarray, np.ndarray]:
    """What the registered version itself answers (classes, probabilities), loaded here through MLflow."""
    import mlflow.sklearn

    from infra.models import configure_mlflow

    configure_mlflow(served.settings)
    model = mlflow.sklearn.load_model(f"models:/{served.settings.model_name}/{served.version}")
    return model.predict(frame), model.predict_proba(frame)


def per_feature_inputs(frame, binary: bool) -> list:
    inputs = []
    for name in frame.columns:
        tensor = triton.InferInput(name, [len(frame)], "FP64")  # the data's own column names, spaces and all
        tensor.set_data_from_numpy(frame[name].to_numpy(dtype=np.float64), binary_data=binary)
        inputs.append(tensor)
    return inputs


async def test_tritonclient_reads_metadata_and_gets_the_models_predictions(served):
    frame = breast_cancer_frame().drop(columns="target").iloc[100:140].reset_index(drop=True)
    classes, proba = await asyncio.to_thread(expected, served, frame)
    name = served.settings.model_name
    client = triton.InferenceServerClient(url=served.gateway.removeprefix("http://"))
    try:
        assert await client.is_server_live() and await client.is_server_ready()
        assert await client.is_model_ready(name) and await client.is_model_ready(name, served.version)
        assert not await client.is_model_ready("another-model")
        assert "binary_tensor_data" in (await client.get_server_metadata())["extensions"]
        meta = await client.get_model_metadata(name)
        assert [i["name"] for i in meta["inputs"]] == list(frame.columns) and meta["versions"] == [served.version]
        assert {i["datatype"] for i in meta["inputs"]} == {"FP64"}

        results = {}
        for binary in (True, False):  # tritonclient's default (binary tensors both ways), then plain JSON
            outputs = [triton.InferRequestedOutput(o, binary_data=binary) for o in ("predict", "predict_proba")]
            results[binary] = await client.infer(name, per_feature_inputs(frame, binary), outputs=outputs,
                                                 request_id="batch-1", headers=key())
        matrix = triton.InferInput("input-0", list(frame.shape), "FP64")  # one [N, features] matrix, in order
        matrix.set_data_from_numpy(frame.to_numpy(dtype=np.float64))
        results["matrix"] = await client.infer(name, [matrix], model_version=served.version, headers=key())

        for result in results.values():
            assert result.get_response()["model_version"] == served.version
            assert result.as_numpy("predict").tolist() == classes.tolist()
            assert np.allclose(result.as_numpy("predict_proba"), proba, rtol=1e-9, atol=1e-12)
        assert results[True].get_response()["id"] == "batch-1"

        with pytest.raises(InferenceServerException) as unkeyed:
            await client.infer(name, per_feature_inputs(frame, True))
        assert unkeyed.value.status() == "401"
        with pytest.raises(InferenceServerException) as wrong_version:
            await client.infer(name, per_feature_inputs(frame, True), model_version="999", headers=key())
        assert wrong_version.value.status() == "404" and "not served" in wrong_version.value.message()
        with pytest.raises(InferenceServerException) as missing:
            await client.infer(name, per_feature_inputs(frame, True)[1:], headers=key())
        assert missing.value.status() == "400" and "mean radius" in missing.value.message()
    finally:
        await client.close()

    bus = await Bus.connect(served.settings.resolved_nats_url)
    try:
        events = await stored_events(bus, "driftline.prediction.made", 3 * len(frame))
    finally:
        await bus.close()
    assert [e.data.predicted_class for e in events] == classes.tolist() * 3
    assert events[0].data.features == frame.iloc[0].to_dict() and {e.data.model_version for e in events} == {
        served.version}
