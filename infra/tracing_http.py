"""The HTTP hop of a trace: a pure ASGI middleware that starts or continues the caller's trace (W3C traceparent).

Outermost in the app, so the span is current while the metrics middleware observes the request's latency (its
trace id becomes the histogram's exemplar) and while a route publishes events (they carry it onto the bus).
"""

from __future__ import annotations

from opentelemetry.trace import Status, StatusCode

from infra import tracing

# Probes and scrapes would fill the trace store with one-span traces nobody reads.
UNTRACED_PATHS = frozenset({"/metrics", "/health", "/ready", "/healthz", "/favicon.ico"})
_WANTED = (b"traceparent", b"tracestate", b"baggage")


class TracingMiddleware:
    def __init__(self, app, untraced: frozenset[str] = UNTRACED_PATHS):
        self.app = app
        self.untraced = untraced

    async def __call__(self, scope, receive, send):
        if not tracing.ENABLED or scope["type"] != "http" or scope["path"] in self.untraced:
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED}
        method = scope["method"]
        status = [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        with tracing.tracer().start_as_current_span(
                f"{method} {scope['path']}", context=tracing.extract(carrier), kind=tracing.SERVER,
                attributes={"http.request.method": method, "url.path": scope["path"]}) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                route = getattr(scope.get("route"), "path", None)  # the router sets it on the shared scope
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status[0])
                if status[0] >= 500:
                    span.set_status(Status(StatusCode.ERROR))
