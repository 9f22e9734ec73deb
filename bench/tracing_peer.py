"""What bench_http.py and bench_bus.py need to measure tracing: an OTLP/HTTP sink to export to, the environment that
turns tracing on in a service, and the cost of the tracing hooks on the request path while tracing is off.

    .venv/bin/python bench/tracing_peer.py PORT      # the sink alone: counts the spans it is sent

The sink is a separate process (services export from a background thread; the sink must not share their CPU
accounting): it accepts POST /v1/traces, decodes the protobuf request to count spans, and answers GET /count.
"""

from __future__ import annotations

import subprocess
import sys
import timeit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def tracing_env(sink_port: int) -> dict[str, str]:
    """Tracing on in a child service: OTLP/HTTP to the sink, every trace sampled (the worst case), the SDK's
    default batch processor (2048 spans queued, 512 a batch, every 5 s)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}", "OTEL_TRACES_SAMPLER": "always_on"}


def tracing_off_env() -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_TRACES_EXPORTER": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ""}


def start_sink(stage, port: int) -> subprocess.Popen:
    return stage.start("otlp-sink", [sys.executable, str(Path(__file__).resolve()), str(port)])


def spans_received(port: int) -> int:
    import httpx

    return int(httpx.get(f"http://127.0.0.1:{port}/count", timeout=5).text)


def off_hook_cost_us() -> dict[str, float]:
    """Microseconds the tracing hooks add with tracing off, per HTTP request and per bus message (timeit, in this
    process): every check the request path and the worker's path make before returning."""
    from infra import tracing
    from infra.tracing_http import TracingMiddleware

    assert not tracing.ENABLED
    middleware = TracingMiddleware(None)
    scope = {"type": "http", "path": "/predict"}

    def http_hooks():  # middleware's first check, the exemplar, the event buffer's and the publish's checks
        if not tracing.ENABLED or scope["type"] != "http" or scope["path"] in middleware.untraced:
            pass
        tracing.exemplar()
        if tracing.ENABLED:
            pass
        tracing.current_headers()

    def bus_hooks():  # the runner's check, the worker's, the publish's (ambient headers and per event)
        if not tracing.ENABLED:
            pass
        if tracing.ENABLED:
            pass
        tracing.current_headers()
        if tracing.ENABLED:
            pass

    n = 200_000
    return {"http": min(timeit.repeat(http_hooks, number=n, repeat=5)) / n * 1e6,
            "bus": min(timeit.repeat(bus_hooks, number=n, repeat=5)) / n * 1e6}


class _Sink(BaseHTTPRequestHandler):
    spans = 0

    def do_POST(self):  # noqa: N802 (http.server's naming)
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = ExportTraceServiceRequest.FromString(body)
        _Sink.spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        body = str(_Sink.spans).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), _Sink).serve_forever()
