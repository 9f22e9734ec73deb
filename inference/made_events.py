"""driftline.prediction.made written straight to JSON on the hot paths (gateway and worker).

Building and serializing the pydantic PredictionMade costs ~75 us an event here, orjson ~5 us: as much as the
rest of a request. The bytes follow schemas.prediction.PredictionMade exactly; the unit tests parse them back with
schemas.parse_event, so a schema change that these bytes no longer meet fails there.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from inference.model_holder import Prediction
from infra.models import LoadedModel
from schemas import PredictionMade, derived_id

MADE_TYPE = PredictionMade.type_name()


class SerializedEvent:
    """An event already in its wire form: what Bus.publish_many needs (topic, id, type, bytes)."""

    __slots__ = ("id", "payload", "request_id", "trace")
    topic = PredictionMade.topic
    type = MADE_TYPE

    def __init__(self, event_id: str, payload: bytes, request_id: str, trace: dict[str, str] | None = None):
        self.id, self.payload, self.request_id = event_id, payload, request_id
        self.trace = trace  # the trace context it was made in (the request's), published beside it

    def to_bytes(self) -> bytes:
        return self.payload


def prediction_made(*, event_id: str, source: str, correlation_id: str, causation_id: str | None, request_id: str,
                    features: dict, model: LoadedModel, prediction: Prediction, latency_ms: float,
                    channel: str) -> SerializedEvent:
    return SerializedEvent(event_id, orjson.dumps({
        "specversion": "1.0", "id": event_id, "type": MADE_TYPE, "source": source, "time": datetime.now(UTC),
        "subject": model.name, "correlationid": correlation_id, **({"causationid": causation_id} if causation_id else {}),
        "data": {"request_id": request_id, "model": model.name, "model_version": model.version,
                 "features": features, "predicted_class": prediction.predicted_class,
                 "probabilities": prediction.probabilities, "latency_ms": latency_ms, "channel": channel}}),
        request_id)


def caused_by(request, **fields) -> SerializedEvent:
    """The PredictionMade answering a bus request: deterministic id, the request's correlation id."""
    return prediction_made(event_id=derived_id(request.id, MADE_TYPE), correlation_id=request.correlation_id,
                           causation_id=request.id, **fields)
