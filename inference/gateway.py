"""The HTTP gateway: predictions on the champion in three protocols, /model, /health, /ready, /metrics, and every
prediction as an event.

/predict (ours), /invocations (MLflow's scoring protocol) and the Open Inference Protocol v2 routes share one
path (inference/serving.py): the same API keys, checks, coalescing batcher and prediction events.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from inference import metrics, mlflow_route, oip_routes, predict_route
from inference.batcher import MicroBatcher
from inference.event_buffer import EventBuffer
from inference.made_events import SerializedEvent, prediction_made
from inference.model_holder import ModelHolder
from inference.openapi_doc import documented
from inference.serving import Serving, json_response
from inference.shadow import ShadowScorer
from infra.bus import Bus
from infra.settings import Settings
from infra.tracing_http import TracingMiddleware
from schemas import new_id

SOURCE = "inference/gateway"


def build_event(item) -> SerializedEvent:
    """A buffered (request_id, event_id, features, model, prediction, latency) as the event monitors read."""
    request_id, event_id, features, model, prediction, latency_ms = item
    event_id = event_id or new_id()
    return prediction_made(event_id=event_id, source=SOURCE, correlation_id=event_id, causation_id=None,
                           request_id=request_id, features=features, model=model, prediction=prediction,
                           latency_ms=latency_ms, channel="http")


def create_app(settings: Settings, bus: Bus, holder: ModelHolder, extra_routers: Sequence[APIRouter] = (),
               shadow: ShadowScorer | None = None) -> FastAPI:
    """The gateway application; the caller owns the bus, the holder (and reloads it) and the shadow (and runs it)."""
    batcher = MicroBatcher(lambda: holder.current, max_records=settings.gateway_batch_max,
                           max_wait_s=settings.gateway_batch_wait_s)
    events = EventBuffer(bus, capacity=settings.gateway_event_buffer, build=build_event)
    serving = Serving(settings, holder, batcher, events, shadow)

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
                  description="Predictions from the champion of the model registry; every prediction is an event. "
                              "Three protocols on one path: /predict (ours), /invocations (MLflow's scoring "
                              "protocol) and the Open Inference Protocol v2 (/v2/...).")
    app.state.events = events
    app.state.batcher = batcher
    # First in the list: Starlette tries routes in order, about 1 us of regex each (FastAPI's docs routes come first).
    app.router.routes[0:0] = [predict_route.route(serving), mlflow_route.route(serving), *oip_routes.routes(serving)]
    app.openapi = documented(app, holder, settings)

    @app.get("/model")
    async def model_info() -> Response:
        """The model served now: name, version and the features /predict expects."""
        model = holder.current
        if model is None:
            return json_response({"detail": "no model is loaded yet"}, 503)
        return json_response({"model": model.name, "model_version": model.version, "run_id": model.run_id,
                              "features": model.feature_types, "classes": [str(c) for c in model.classes]})

    @app.get("/health")
    async def health() -> Response:
        """Alive."""
        return json_response({"status": "ok"})

    @app.get("/ready")
    async def ready() -> Response:
        """Ready when a model is loaded and the bus is connected."""
        checks = {"model_loaded": holder.current is not None, "bus_connected": bus.connected}
        doc = {"ready": all(checks.values()), **checks, "model_version": holder.version,
               "events_buffered": len(events), "events_dropped": events.dropped,
               "shadow": {a: m.version for a, m in shadow.models.items()} if shadow else {}}
        return json_response(doc, 200 if doc["ready"] else 503)

    @app.get("/metrics")
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus text format, or OpenMetrics (with trace-id exemplars) when the scraper asks for it."""
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(REGISTRY), media_type=content_type)

    for router in extra_routers:
        app.include_router(router)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, 500)

    app.add_middleware(metrics.MetricsMiddleware)
    app.add_middleware(TracingMiddleware)  # added last, so outermost: its span is current inside the metrics one
    return app
