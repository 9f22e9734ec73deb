"""POST /predict, our own protocol: {"features": {...}} for one record or {"records": [...]} for a batch, answered
with the class, the probabilities, the model version and a request id that labels join on."""

from __future__ import annotations

from collections.abc import Sequence

from inference.features import FieldError, summary
from inference.http_body import parse_predict_body
from inference.serving import NamedRoute, Parsed, Served, Serving, json_response


def error(status: int, message: str, errors: Sequence[FieldError]):
    if errors:
        return json_response({"detail": [e.as_dict() for e in errors], "message": summary(errors)}, status)
    return json_response({"detail": message}, status)


def route(serving: Serving) -> NamedRoute:
    max_records = serving.settings.gateway_max_records

    def parse(raw: bytes, request, model) -> Parsed:
        body = parse_predict_body(raw, model.feature_types, max_records)
        locate = (lambda row: ("body", "features")) if body.single else (lambda row: ("body", "records", row))
        return Parsed(body.records, body.request_ids, {"single": body.single, "locate": locate})

    def answer(parsed: Parsed, served: Served):
        model, ids = served.model, served.request_ids
        if parsed.context["single"]:
            p = served.predictions[0]
            return json_response({"request_id": ids[0], "model": model.name, "model_version": model.version,
                                  "predicted_class": p.predicted_class, "probabilities": p.probabilities})
        return json_response({"model": model.name, "model_version": model.version, "predictions": [
            {"request_id": rid, "predicted_class": p.predicted_class, "probabilities": p.probabilities}
            for rid, p in zip(ids, served.predictions, strict=True)]})

    async def predict(request):
        """Predict one record ({"features": {...}}) or a batch ({"records": [...]}) with the champion."""
        return await serving.handle(request, parse, answer, error)

    return NamedRoute("/predict", predict, methods=["POST"], include_in_schema=False)
