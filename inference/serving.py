"""The one path every prediction route shares (/predict, /invocations, the Open Inference Protocol's infer):
API key, champion loaded, body within its bound, records checked, the coalescing batcher, events, metrics.

A route brings only its protocol: how to read its body into records (`parse`), how to answer (`answer`), and how
its errors look (`error`). Routes are plain Starlette routes: FastAPI's per-request dependency solving costs about
as much as the model call.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi.responses import Response
from starlette.routing import Match, Route

from inference import metrics
from inference.batcher import MicroBatcher, ModelUnavailable
from inference.event_buffer import EventBuffer
from inference.features import FieldError
from inference.http_body import InvalidBody
from inference.model_holder import ModelHolder, NonFiniteOutput, Prediction
from inference.shadow import ShadowScorer
from infra.http_limits import BodyTooLarge, read_limited, refusal_413
from infra.models import LoadedModel
from infra.settings import Settings
from schemas import new_id


class Refused(Exception):
    """The request cannot be served as sent: an HTTP status and a message (e.g. 404 unknown model, 415)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Parsed:
    """Records read from a request, in the model's feature names, and what the answer needs to know."""

    records: list[dict]
    request_ids: list[str | None]
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Served:
    model: LoadedModel
    predictions: list[Prediction]
    request_ids: list[str]


NON_FINITE = "the model gives no finite probabilities for these values: are they far outside the training range?"
Parse = Callable[[bytes, Any, LoadedModel], Parsed]
Answer = Callable[[Parsed, Served], Response]
Error = Callable[[int, str, Sequence[FieldError]], Response]


def json_response(doc, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json", headers=headers)


def key_checker(settings: Settings) -> Callable[[str | None], bool]:
    """Constant-time check of X-API-Key against every configured key (several may be active)."""
    keys = [key.get_secret_value().encode() for key in settings.api_keys]

    def allowed(given: str | None) -> bool:
        if not keys:
            return True
        candidate = (given or "").encode()
        ok = False
        for key in keys:  # no early exit: the time taken does not say which key nearly matched
            ok |= hmac.compare_digest(candidate, key)
        return ok and bool(given)

    return allowed


class NamedRoute(Route):
    """A Starlette route that names itself in the scope, as FastAPI's do, for the per-route metrics."""

    def matches(self, scope):
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


class Serving:
    """Owns nothing: the holder, batcher and event buffer belong to the app; this is the shared request path."""

    def __init__(self, settings: Settings, holder: ModelHolder, batcher: MicroBatcher, events: EventBuffer,
                 shadow: ShadowScorer | None = None):
        self.settings = settings
        self.shadow = shadow
        self.holder = holder
        self.batcher = batcher
        self.events = events
        self.allowed = key_checker(settings)

    async def handle(self, request, parse: Parse, answer: Answer, error: Error) -> Response:
        start = time.perf_counter()
        if not self.allowed(request.headers.get("x-api-key")):
            return error(401, "missing or wrong X-API-Key", ())
        model = self.holder.current
        if model is None:
            return error(503, "no model is loaded yet; train one (driftline train)", ())
        try:
            raw = await read_limited(request, self.settings.gateway_max_body_bytes)
            parsed = parse(raw, request, model)
        except BodyTooLarge as exc:
            metrics.PREDICTION_FAILURES.labels("http", "too_large").inc()
            return refusal_413(error(413, str(exc), ()), exc)  # read no further than the bound
        except InvalidBody as exc:
            metrics.PREDICTION_FAILURES.labels("http", "invalid").inc()
            return error(422, "", exc.errors)
        except Refused as exc:
            metrics.PREDICTION_FAILURES.labels("http", "refused").inc()
            return error(exc.status, str(exc), ())
        try:
            served = await self.serve(parsed.records, parsed.request_ids, start)
        except ModelUnavailable as exc:
            return error(503, str(exc), ())
        except NonFiniteOutput as exc:
            metrics.PREDICTION_FAILURES.labels("http", "invalid").inc()
            where = parsed.context.get("locate", lambda row: ("records", row))
            return error(422, "", [FieldError(where(row), NON_FINITE, "value_error") for row in exc.rows])
        return answer(parsed, served)

    async def serve(self, records: list[dict], request_ids: list[str | None], start: float) -> Served:
        """Predict checked records in the next coalesced model call; publish each as prediction.made."""
        served, predictions = await self.batcher.submit(records)
        latency_ms = (time.perf_counter() - start) * 1000
        # A request without an id gets its event's id (one id minted, not two).
        event_ids = [None if rid else new_id() for rid in request_ids]
        ids = [rid or eid for rid, eid in zip(request_ids, event_ids, strict=True)]
        for rid, eid, record, prediction in zip(ids, event_ids, records, predictions, strict=True):
            self.events.add((rid, eid, record, served, prediction, latency_ms))
        metrics.count_predictions(served.name, served.version, (p.predicted_class for p in predictions), "http")
        if self.shadow is not None and self.shadow.models:  # handed over, never waited for
            self.shadow.offer("http", served.version,
                              [(rid, record, None, None) for rid, record in zip(ids, records, strict=True)])
        return Served(served, predictions, ids)
