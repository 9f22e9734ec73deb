"""How POST /predict is routed and documented: a plain Starlette route (FastAPI's per-request dependency solving
costs about as much as the model call), described in the OpenAPI document by hand."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import Match, Route

PREDICT_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": [
            {"title": "One record", "type": "object", "additionalProperties": False, "required": ["features"],
             "properties": {"features": {"type": "object", "description": "Feature name to value (the champion's "
                                         "signature; GET /model lists them)."},
                            "request_id": {"type": "string", "description": "Your id; labels join on it."}}},
            {"title": "A batch", "type": "object", "additionalProperties": False, "required": ["records"],
             "properties": {"records": {"type": "array", "minItems": 1, "items": {"type": "object"}},
                            "request_ids": {"type": "array", "items": {"type": "string"}}}},
        ]}}},
    }
}


class NamedRoute(Route):
    """A Starlette route that names itself in the scope, as FastAPI's do, for the per-route metrics."""

    def matches(self, scope):
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


def documented(app: FastAPI):
    """app.openapi with POST /predict described (body shapes, API key, error answers)."""

    def openapi() -> dict:
        if not app.openapi_schema:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema["paths"]["/predict"] = {"post": {
                "summary": "Predict with the champion",
                "description": "One record or a batch; every prediction is also published as "
                               "driftline.prediction.made.",
                **PREDICT_OPENAPI, "security": [{"APIKey": []}],
                "responses": {"200": {"description": "Class, probabilities, model name and version, request id."},
                              "401": {"description": "Missing or wrong X-API-Key."},
                              "413": {"description": "Body over the size bound."},
                              "422": {"description": "Each wrong field, named."},
                              "503": {"description": "No model loaded yet."}}}}
            schema.setdefault("components", {})["securitySchemes"] = {"APIKey": {
                "type": "apiKey", "in": "header", "name": "X-API-Key",
                "description": "One of DRIFTLINE_API_KEYS (only when keys are configured)."}}
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi
