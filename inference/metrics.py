"""Prometheus metrics of the serving path (names follow Prometheus conventions; durations in seconds)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

from infra import tracing

HTTP_REQUESTS = Counter("driftline_http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "driftline_http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "route", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PREDICTIONS = Counter("driftline_predictions_total", "Predictions made.",
                      ["model", "version", "predicted_class", "channel"])
PREDICTION_FAILURES = Counter("driftline_prediction_failures_total", "Requests that could not be answered.",
                              ["channel", "reason"])
BATCH_SIZE = Histogram("driftline_inference_batch_records", "Records per model call.", ["channel"],
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
MODEL_INFO = Gauge("driftline_model_info", "The model version this process serves (value 1).",
                   ["model", "version", "run_id"])
MODEL_RELOADS = Counter("driftline_model_reloads_total", "Model reloads by outcome.", ["outcome"])
EVENTS_PUBLISHED = Counter("driftline_prediction_events_published_total",
                           "Prediction events the gateway stored on the bus.")
EVENTS_DROPPED = Counter("driftline_prediction_events_dropped_total",
                         "Prediction events the gateway could not publish (buffer full while the bus was down).")
EVENTS_BUFFERED = Gauge("driftline_prediction_events_buffered", "Prediction events waiting to be published.")
PUBLISH_ERRORS = Counter("driftline_prediction_event_publish_errors_total",
                         "Failed attempts to publish a batch of prediction events (retried).")


_children: dict = {}


def child(metric, *labels):
    """metric.labels(*labels), cached: labels() takes a lock and builds a tuple each call (~5 us)."""
    key = (id(metric), labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def set_model_info(model: str, version: str, run_id: str) -> None:
    """Exactly one model_info series: the version served now."""
    MODEL_INFO.clear()
    MODEL_INFO.labels(model, version, run_id).set(1)


def count_predictions(model: str, version: str, classes, channel: str) -> None:
    counts: dict = {}
    for label in classes:
        counts[label] = counts.get(label, 0) + 1
    for label, n in counts.items():
        child(PREDICTIONS, model, version, str(label), channel).inc(n)


class MetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request by route template and status."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            labels = (scope["method"], path, str(status[0]))
            child(HTTP_REQUESTS, *labels).inc()
            # With tracing on, the request's trace id is the exemplar (OpenMetrics scrapes show it).
            child(HTTP_LATENCY, *labels).observe(time.perf_counter() - start, tracing.exemplar())
SHADOW_SCORED = Counter("driftline_shadow_predictions_total", "Requests a challenger scored in the shadow.",
                        ["alias", "version"])
SHADOW_DROPPED = Counter("driftline_shadow_dropped_total",
                         "Requests not scored in the shadow: over the cost budget (queue full), a failed call, or a "
                         "failed publish.", ["reason"])
SHADOW_QUEUED = Gauge("driftline_shadow_queued_records", "Records waiting to be scored by the challengers.")
SHADOW_CHALLENGERS = Gauge("driftline_shadow_challengers", "Challengers this process scores in the shadow.")
