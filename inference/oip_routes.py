"""The Open Inference Protocol v2 REST routes (KServe, Triton, MLServer, Seldon clients speak it) on the champion.

The model is named by the registry name; a version in the path must be the one served now (404 otherwise: the
gateway serves the champion only). Health answers 200 for true and 400 for false, as the protocol's health API
says; errors are {"error": "..."}. Inference goes through the same path as /predict (inference/serving.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from fastapi.responses import Response

from inference.features import FieldError, summary
from inference.oip_tensors import BINARY_HEADER, FROM_MLFLOW, class_datatype, read_infer, write_infer
from inference.serving import NamedRoute, Parsed, Refused, Served, Serving, json_response
from infra.models import LoadedModel

EXTENSIONS = ["binary_tensor_data"]  # Triton's name for raw tensor bytes after the JSON header


def server_version() -> str:
    try:
        return version("driftline")
    except PackageNotFoundError:
        return "0"


def error(status: int, message: str, errors: Sequence[FieldError] = ()) -> Response:
    return json_response({"error": summary(errors) if errors else message}, 400 if status == 422 else status)


def served_or_refused(model: LoadedModel | None, name: str, wanted_version: str | None) -> LoadedModel:
    if model is None:
        raise Refused(503, "no model is loaded yet; train one (driftline train)")
    if name != model.name:
        raise Refused(404, f"unknown model {name!r}; this gateway serves {model.name!r}")
    if wanted_version is not None and wanted_version != model.version:
        raise Refused(404, f"version {wanted_version} of {name} is not served; the champion is version {model.version}")
    return model


def metadata(model: LoadedModel) -> dict:
    """Inputs one per feature, by its name; outputs the class and the class probabilities."""
    classes = model.classes
    return {"name": model.name, "versions": [model.version], "platform": "mlflow-sklearn",
            "inputs": [{"name": name, "datatype": FROM_MLFLOW.get(model.feature_types[name], "BYTES"), "shape": [-1]}
                       for name in model.features],
            "outputs": [{"name": "predict", "datatype": class_datatype(classes), "shape": [-1]},
                        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes) or -1]}]}


def routes(serving: Serving) -> list[NamedRoute]:
    holder, max_records = serving.holder, serving.settings.gateway_max_records

    def parse(raw: bytes, request, model: LoadedModel) -> Parsed:
        params = request.path_params
        served_or_refused(model, params["name"], params.get("version"))
        infer = read_infer(raw, request.headers.get(BINARY_HEADER), model, max_records)
        return Parsed(infer.records, infer.request_ids, {"infer": infer})

    def answer(parsed: Parsed, served: Served) -> Response:
        body, header_length = write_infer(parsed.context["infer"], served.model, served.predictions,
                                          served.request_ids)
        if header_length is None:
            return Response(body, media_type="application/json")
        return Response(body, media_type="application/octet-stream",
                        headers={"Inference-Header-Content-Length": str(header_length)})

    async def infer(request) -> Response:
        return await serving.handle(request, parse, answer, error)

    async def server_metadata(request) -> Response:
        return json_response({"name": "driftline", "version": server_version(), "extensions": EXTENSIONS})

    async def live(request) -> Response:
        return json_response({"live": True})

    async def ready(request) -> Response:
        up = holder.current is not None
        return json_response({"ready": up}, 200 if up else 400)

    async def model_metadata(request) -> Response:
        try:
            model = served_or_refused(holder.current, request.path_params["name"], request.path_params.get("version"))
        except Refused as exc:
            return error(exc.status, str(exc))
        return json_response(metadata(model))

    async def model_ready(request) -> Response:
        name = request.path_params["name"]
        try:
            served_or_refused(holder.current, name, request.path_params.get("version"))
        except Refused as exc:
            if exc.status == 503:
                return json_response({"name": name, "ready": False}, 400)
            return error(exc.status, str(exc))
        return json_response({"name": name, "ready": True})

    model_paths = ("/v2/models/{name}", "/v2/models/{name}/versions/{version}")
    return [
        *(NamedRoute(f"{path}/infer", infer, methods=["POST"], include_in_schema=False) for path in model_paths),
        NamedRoute("/v2", server_metadata, methods=["GET"], include_in_schema=False),
        NamedRoute("/v2/health/live", live, methods=["GET"], include_in_schema=False),
        NamedRoute("/v2/health/ready", ready, methods=["GET"], include_in_schema=False),
        *(NamedRoute(path, model_metadata, methods=["GET"], include_in_schema=False) for path in model_paths),
        *(NamedRoute(f"{path}/ready", model_ready, methods=["GET"], include_in_schema=False) for path in model_paths),
    ]
