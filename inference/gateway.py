"""The HTTP gateway: /predict on the champion, /health, /ready, /metrics, and every prediction as an event."""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from inference import metrics
from inference.batcher import MicroBatcher, ModelUnavailable
from inference.event_buffer import EventBuffer
from inference.features import summary
from inference.http_body import InvalidBody, parse_predict_body
from inference.made_events import SerializedEvent, prediction_made
from inference.model_holder import ModelHolder
from inference.predict_route import NamedRoute, documented
from infra.bus import Bus
from infra.http_limits import BodyTooLarge, read_limited, too_large
from infra.settings import Settings
from schemas import new_id

SOURCE = "inference/gateway"


def _json(doc, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def build_event(item) -> SerializedEvent:
    """A buffered (request_id, event_id, features, model, prediction, latency) as the event monitors read."""
    request_id, event_id, features, model, prediction, latency_ms = item
    event_id = event_id or new_id()
    return prediction_made(event_id=event_id, source=SOURCE, correlation_id=event_id, causation_id=None,
                           request_id=request_id, features=features, model=model, prediction=prediction,
                           latency_ms=latency_ms, channel="http")


def key_checker(settings: Settings):
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


def create_app(settings: Settings, bus: Bus, holder: ModelHolder, extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The gateway application; the caller owns the bus and the holder (and reloads the holder)."""
    batcher = MicroBatcher(lambda: holder.current, max_records=settings.gateway_batch_max,
                           max_wait_s=settings.gateway_batch_wait_s)
    events = EventBuffer(bus, capacity=settings.gateway_event_buffer, build=build_event)
    allowed = key_checker(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        events.start()
        try:
            yield
        finally:
            await batcher.stop()
            await events.stop()

    app = FastAPI(title="Driftline gateway", version="1", lifespan=lifespan,
                  description="Predictions from the champion of the model registry; every prediction is an event.")
    app.state.events = events
    app.state.batcher = batcher

    async def predict(request: Request) -> Response:
        """Predict one record ({"features": {...}}) or a batch ({"records": [...]}) with the champion."""
        start = time.perf_counter()
        if not allowed(request.headers.get("x-api-key")):
            return _json({"detail": "missing or wrong X-API-Key"}, 401)
        model = holder.current
        if model is None:
            return _json({"detail": "no model is loaded yet; train one (driftline train)"}, 503)
        try:
            raw = await read_limited(request, settings.gateway_max_body_bytes)
            body = parse_predict_body(raw, model.feature_types, settings.gateway_max_records)
        except BodyTooLarge as exc:
            metrics.PREDICTION_FAILURES.labels("http", "too_large").inc()
            return too_large(request, exc)
        except InvalidBody as exc:
            metrics.PREDICTION_FAILURES.labels("http", "invalid").inc()
            return _json({"detail": [e.as_dict() for e in exc.errors], "message": summary(exc.errors)}, 422)
        try:
            served, predictions = await batcher.submit(body.records)
        except ModelUnavailable as exc:
            return _json({"detail": str(exc)}, 503)
        latency_ms = (time.perf_counter() - start) * 1000
        # A request without an id gets its event's id (one id minted, not two).
        event_ids = [None if rid else new_id() for rid in body.request_ids]
        ids = [rid or eid for rid, eid in zip(body.request_ids, event_ids, strict=True)]
        for rid, eid, record, prediction in zip(ids, event_ids, body.records, predictions, strict=True):
            events.add((rid, eid, record, served, prediction, latency_ms))
        metrics.count_predictions(served.name, served.version, (p.predicted_class for p in predictions), "http")
        if body.single:
            p = predictions[0]
            return _json({"request_id": ids[0], "model": served.name, "model_version": served.version,
                          "predicted_class": p.predicted_class, "probabilities": p.probabilities})
        return _json({"model": served.name, "model_version": served.version, "predictions": [
            {"request_id": rid, "predicted_class": p.predicted_class, "probabilities": p.probabilities}
            for rid, p in zip(ids, predictions, strict=True)]})

    # A plain Starlette route: FastAPI's per-request dependency solving costs about as much as the model call.
    # The body is checked against the model's signature by hand, so OpenAPI gets the schema from documented().
    app.router.routes.append(NamedRoute("/predict", predict, methods=["POST"], include_in_schema=False))
    app.openapi = documented(app)

    @app.get("/model")
    async def model_info() -> Response:
        """The model served now: name, version and the features /predict expects."""
        model = holder.current
        if model is None:
            return _json({"detail": "no model is loaded yet"}, 503)
        return _json({"model": model.name, "model_version": model.version, "run_id": model.run_id,
                      "features": model.feature_types, "classes": [str(c) for c in model.classes]})

    @app.get("/health")
    async def health() -> Response:
        """Alive."""
        return _json({"status": "ok"})

    @app.get("/ready")
    async def ready() -> Response:
        """Ready when a model is loaded and the bus is connected."""
        checks = {"model_loaded": holder.current is not None, "bus_connected": bus.connected}
        doc = {"ready": all(checks.values()), **checks, "model_version": holder.version,
               "events_buffered": len(events), "events_dropped": events.dropped}
        return _json(doc, 200 if doc["ready"] else 503)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in extra_routers:
        app.include_router(router)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, 500)

    app.add_middleware(metrics.MetricsMiddleware)
    return app
