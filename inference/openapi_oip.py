"""The Open Inference Protocol v2 routes in the OpenAPI document: paths and the protocol's JSON objects."""

from __future__ import annotations

from inference.oip_tensors import DATATYPES, OUTPUTS
from inference.openapi_schemas import obj, ref
from infra.models import LoadedModel


def schemas() -> dict:
    tensor = {"name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
              "datatype": {"enum": list(DATATYPES)}, "parameters": {"type": "object"}}
    meta_tensor = obj({"name": {"type": "string"}, "datatype": {"type": "string"},
                       "shape": {"type": "array", "items": {"type": "integer"}}})
    return {
        "OipError": obj({"error": {"type": "string"}}),
        "OipServerMetadata": obj({"name": {"type": "string"}, "version": {"type": "string"},
                                  "extensions": {"type": "array", "items": {"type": "string"}}}),
        "OipModelMetadata": obj({"name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
                                 "platform": {"type": "string"}, "inputs": {"type": "array", "items": meta_tensor},
                                 "outputs": {"type": "array", "items": meta_tensor}}),
        "OipInferenceRequest": obj({
            "id": {"type": "string"},
            "parameters": {"type": "object", "description": "binary_data_output (bool); request_ids: one string "
                                                            "per record, for label joins."},
            "inputs": {"type": "array", "minItems": 1, "items": obj({**tensor, "data": {"type": "array"}},
                                                                   ["name", "shape", "datatype", "data"])},
            "outputs": {"type": "array", "items": obj({"name": {"enum": list(OUTPUTS)},
                                                       "parameters": {"type": "object"}}, ["name"])},
        }, ["inputs"], description="One input per feature named as the feature (shape [N] or [N, 1]), or one "
                                   "[N, features] matrix with the features in the model metadata's order."),
        "OipInferenceResponse": obj({
            "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
            "parameters": obj({"request_ids": {"type": "array", "items": {"type": "string"}}}),
            "outputs": {"type": "array", "items": obj({**tensor, "datatype": {"type": "string"},
                                                       "data": {"type": "array"}}, ["name", "shape", "datatype"])},
        }, ["model_name", "model_version", "parameters", "outputs"]),
    }


def _json(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def paths(model: LoadedModel | None, secured: bool) -> dict:
    """Each route with and without /versions/{version}; the only name and version served are the champion's."""
    name = {"name": "name", "in": "path", "required": True, "description": "The registered model's name.",
            "schema": {"type": "string", **({"enum": [model.name]} if model else {})}}
    version = {"name": "version", "in": "path", "required": True, "description": "Must be the champion's version.",
               "schema": {"type": "string", **({"enum": [model.version]} if model else {})}}
    error = _json("OipError", "{\"error\": ...}")
    not_found = {**error, "description": "Another model, or a version that is not the champion."}
    unloaded = {**error, "description": "No model is loaded yet."}
    ready = obj({"name": {"type": "string"}, "ready": {"type": "boolean"}})
    infer = {
        "summary": "Open Inference Protocol v2 inference on the champion",
        "description": "Every prediction is also published as driftline.prediction.made. With Triton's binary "
                       "tensor extension, the JSON header is followed by raw tensor bytes and its length is in the "
                       "Inference-Header-Content-Length header.",
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": ref("OipInferenceRequest")},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"200": {"description": "The outputs predict (class) and predict_proba.", "content": {
                          "application/json": {"schema": ref("OipInferenceResponse")},
                          "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                      "400": {**error, "description": "A wrong input, named."}, "404": not_found,
                      "413": {**error, "description": "Body over the size bound."}, "503": unloaded,
                      **({"401": {**error, "description": "Missing or wrong X-API-Key."}} if secured else {})},
        **({"security": [{"APIKey": []}]} if secured else {}),
    }
    out = {
        "/v2": {"get": {"summary": "Server metadata", "responses": {"200": _json("OipServerMetadata", "Server.")}}},
        "/v2/health/live": {"get": {"summary": "Server live", "responses": {
            "200": {"description": "Live.", "content": {"application/json": {"schema": obj(
                {"live": {"type": "boolean"}})}}}}}},
        "/v2/health/ready": {"get": {"summary": "Server ready (a champion is loaded)", "responses": {
            code: {"description": text, "content": {"application/json": {"schema": obj(
                {"ready": {"type": "boolean"}})}}} for code, text in (("200", "Ready."), ("400", "Not ready."))}}},
    }
    for base, params in (("/v2/models/{name}", [name]), ("/v2/models/{name}/versions/{version}", [name, version])):
        out[base] = {"get": {"summary": "Model metadata: inputs (one per feature) and outputs", "parameters": params,
                             "responses": {"200": _json("OipModelMetadata", "The champion's metadata."),
                                           "404": not_found, "503": unloaded}}}
        out[f"{base}/ready"] = {"get": {"summary": "Model ready", "parameters": params, "responses": {
            "200": {"description": "Ready.", "content": {"application/json": {"schema": ready}}},
            "400": {"description": "Not loaded yet.", "content": {"application/json": {"schema": ready}}},
            "404": not_found}}}
        out[f"{base}/infer"] = {"post": {**infer, "parameters": params}}
    return out
