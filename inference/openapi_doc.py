"""The gateway's OpenAPI document (/openapi.json, /docs), built from the champion served now and rebuilt when a
promotion or rollback swaps it: its input schema (names, types, an example row from its reference data), its
classes, every status code each route can answer, and the API key when keys are configured.

The prediction routes are plain Starlette routes (for speed), so they are described here rather than by FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from inference import openapi_oip
from inference.model_holder import ModelHolder
from inference.openapi_schemas import mlflow_schemas, obj, prediction_schemas, ref
from infra.models import LoadedModel
from infra.settings import Settings


def _json(schema: dict | str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": ref(schema) if isinstance(schema, str) else schema}}}


def _errors(schema: str, invalid: str, secured: bool, extra: dict | None = None) -> dict:
    """The error answers every prediction route can give, in that route's error shape."""
    return {invalid: _json("FieldErrors" if schema == "Detail" else schema, "Each wrong field, named."),
            "413": _json(schema, "Body over the size bound (DRIFTLINE_GATEWAY_MAX_BODY_BYTES)."),
            "503": _json(schema, "No model is loaded yet."),
            **({"401": _json(schema, "Missing or wrong X-API-Key.")} if secured else {}), **(extra or {})}


def _prediction_paths(model: LoadedModel | None, secured: bool) -> dict:
    security = {"security": [{"APIKey": []}]} if secured else {}
    example = ""
    if model and model.example:
        example = ",".join(f'"{n}"' if "," in n or '"' in n else n for n in model.example) + "\n" + ",".join(
            str(v) for v in model.example.values()) + "\n"
    return {
        "/predict": {"post": {
            "summary": "Predict with the champion",
            "description": "One record or a batch, under the training data's column names; every prediction is "
                           "also published as driftline.prediction.made.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [ref("PredictOne"), ref("PredictBatch")]}}}},
            "responses": {"200": _json({"oneOf": [ref("Prediction"), ref("Predictions")]},
                                       "Class, probabilities, model name and version, request id."),
                          **_errors("Detail", "422", secured)},
            **security}},
        "/invocations": {"post": {
            "summary": "MLflow's scoring protocol (a drop-in for `mlflow models serve`)",
            "description": "JSON with one of dataframe_split, dataframe_records, instances, inputs; or CSV with a "
                           "header row. Answers {\"predictions\": [...]} as MLflow does; each prediction is also "
                           "published as driftline.prediction.made.",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": ref("InvocationsRequest")},
                "text/csv": {"schema": {"type": "string"}, **({"example": example} if example else {})}}},
            "responses": {"200": _json("InvocationsResponse", "One prediction per row."),
                          **_errors("MlflowError", "400", secured, {
                              "415": _json("MlflowError", "Not application/json or text/csv (UTF-8).")})},
            **security}},
    }


def _service_paths(model: LoadedModel | None) -> dict:
    detail = _json("Detail", "No model is loaded yet.")
    info = obj({"model": {"type": "string"}, "model_version": {"type": "string"}, "run_id": {"type": "string"},
                "features": {"type": "object", "additionalProperties": {"type": "string"},
                             "description": "Feature name to MLflow type."},
                "classes": {"type": "array", "items": {"type": "string"}}})
    readiness = obj({"ready": {"type": "boolean"}, "model_loaded": {"type": "boolean"},
                     "bus_connected": {"type": "boolean"}, "model_version": {"type": ["string", "null"]},
                     "events_buffered": {"type": "integer"}, "events_dropped": {"type": "integer"}})
    return {
        "/model": {"get": {"summary": "The model served now", "responses": {
            "200": _json(info, "Name, version and the input schema (also in this document)."), "503": detail}}},
        "/health": {"get": {"summary": "Alive", "responses": {"200": _json(obj({"status": {"const": "ok"}}), "Alive.")}}},
        "/ready": {"get": {"summary": "Ready: a model loaded and the bus connected", "responses": {
            "200": _json(readiness, "Ready."), "503": _json(readiness, "Not ready (see which check failed).")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    }


def build(app: FastAPI, model: LoadedModel | None, settings: Settings) -> dict:
    secured = bool(settings.api_keys)
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    paths = doc.setdefault("paths", {})
    for path, item in {**_service_paths(model), **_prediction_paths(model, secured),
                       **openapi_oip.paths(model, secured)}.items():
        paths[path] = {**paths.get(path, {}), **item}
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update({
        **prediction_schemas(model, settings.gateway_max_records),
        **mlflow_schemas(model, settings.gateway_max_records), **openapi_oip.schemas()})
    if secured:
        components["securitySchemes"] = {"APIKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                                    "description": "One of DRIFTLINE_API_KEYS."}}
    return doc


def documented(app: FastAPI, holder: ModelHolder, settings: Settings) -> Callable[[], dict]:
    """app.openapi: the document of the model served now, built once per version."""
    cache: dict = {}

    def openapi() -> dict:
        model = holder.current
        key = (model.name, model.version, model.run_id) if model else None
        if key not in cache:
            cache.clear()
            cache[key] = build(app, model, settings)
        return cache[key]

    return openapi
