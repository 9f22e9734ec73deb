"""POST /invocations: MLflow's scoring protocol, so a client of `mlflow models serve` points here unchanged.

The answer is {"predictions": [...]} as MLflow's pyfunc gives it for the registered model: the classes, or the
class probabilities when the model was logged with pyfunc_predict_fn="predict_proba". Errors are MLflow's
{"error_code": ..., "message": ...}, with the fields named; status codes as MLflow's (400 bad input, 415).
"""

from __future__ import annotations

from collections.abc import Sequence

from inference.features import FieldError, summary
from inference.mlflow_body import parse_invocations
from inference.serving import NamedRoute, Parsed, Served, Serving, json_response

ERROR_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 413: "RESOURCE_EXHAUSTED", 415: "BAD_REQUEST",
               503: "TEMPORARILY_UNAVAILABLE"}


def error(status: int, message: str, errors: Sequence[FieldError] = ()):
    status = 400 if status == 422 else status
    doc = {"error_code": ERROR_CODES.get(status, "BAD_REQUEST"), "message": summary(errors) if errors else message}
    if errors:
        doc["detail"] = [e.as_dict() for e in errors]
    return json_response(doc, status)


def route(serving: Serving) -> NamedRoute:
    max_records = serving.settings.gateway_max_records

    def parse(raw: bytes, request, model) -> Parsed:
        records, ids = parse_invocations(raw, request.headers.get("content-type"), model.feature_types, max_records)
        return Parsed(records, ids)

    def answer(parsed: Parsed, served: Served):
        if served.model.predict_fn == "predict_proba":
            return json_response({"predictions": [list(p.probabilities.values()) for p in served.predictions]})
        return json_response({"predictions": [p.predicted_class for p in served.predictions]})

    async def invocations(request):
        """MLflow's scoring protocol on the champion."""
        return await serving.handle(request, parse, answer, error)

    return NamedRoute("/invocations", invocations, methods=["POST"], include_in_schema=False)
