"""One trace across processes, as `driftline up` runs them with OTEL_EXPORTER_OTLP_ENDPOINT set: the services export
OTLP/HTTP to a receiver in this test (the protobuf requests the SDK sends, decoded with OpenTelemetry's own proto
classes). /predict -> the gateway (its process) -> NATS -> the monitor (another process) is one trace; a bus request
-> the worker -> NATS -> the monitor is another. (In-process detail, batches and links: tests/integration/test_traces_*.)"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from infra.processes import free_port
from infra.settings import Settings
from tests.e2e.test_up import start_up, stop_up, up_env
from tests.model_fixtures import register_simple_model
from tests.unit.inference.models import records

pytestmark = pytest.mark.e2e

CALLER = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
BUS_CALLER = ("5c0a3e1f2b4d6a8c9e0f1a2b3c4d5e6f", "1a2b3c4d5e6f7a8b")


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str


class Receiver(BaseHTTPRequestHandler):
    """POST /v1/traces as the OTLP/HTTP exporter sends it (protobuf); every span kept with its service's name."""

    spans: list[Span] = []
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 (http.server's naming)
        assert self.path == "/v1/traces", self.path
        request = ExportTraceServiceRequest.FromString(self.rfile.read(int(self.headers["Content-Length"])))
        got = []
        for resource in request.resource_spans:
            service = next(a.value.string_value for a in resource.resource.attributes if a.key == "service.name")
            got += [Span(service, s.name, s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex())
                    for scope in resource.scope_spans for s in scope.spans]
        with Receiver.lock:
            Receiver.spans.extend(got)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def trace(trace_id: str) -> list[Span]:
    with Receiver.lock:
        return [s for s in Receiver.spans if s.trace_id == trace_id]


def received() -> dict[str, int]:
    """Spans received per (service, name): what a failure shows when the trace wanted is not among them."""
    with Receiver.lock:
        names = [f"{s.service}: {s.name}" for s in Receiver.spans]
    return {name: names.count(name) for name in sorted(set(names))}


def wait_trace(trace_id: str, wanted: set[tuple[str, str]], seconds: float) -> list[Span]:
    """The trace once it holds a span of each (service, name suffix) wanted. Each process exports its spans in its own
    batches, and a parent ends after its children: the gateway's server span may arrive after the monitor's."""
    deadline = time.monotonic() + seconds

    def complete(spans: list[Span]) -> bool:
        return all(any(s.service == service and s.name.endswith(name) for s in spans) for service, name in wanted)

    while not complete(trace(trace_id)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return trace(trace_id)


def test_a_request_and_its_prediction_are_one_trace_across_the_processes_up_starts(tmp_path):
    receiver = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}"
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    register_simple_model(settings)  # `up` then skips its first training
    env = {k: v for k, v in up_env(data_dir).items() if not k.startswith(("MLFLOW_", "OTEL_"))}
    env.update(DRIFTLINE_MLFLOW_TRACKING_URI=settings.resolved_mlflow_uri,  # the same store, named: no MLflow UI
               DRIFTLINE_LOCAL_MONITORING="false",  # not what this test is about (tests/e2e/test_dashboard.py)
               OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_BSP_SCHEDULE_DELAY="200")
    proc, lines, _ = start_up(env)
    try:
        assert re.search(rf"^\s+traces\s+to {re.escape(endpoint)}$", "\n".join(lines), re.M), lines
        gateway = httpx.Client(base_url=f"http://127.0.0.1:{env['DRIFTLINE_GATEWAY_PORT']}", timeout=30)
        deadline = time.monotonic() + 180  # `up` is ready when the ports answer; the gateway then loads the model
        while gateway.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, gateway.get("/ready").text
            time.sleep(0.5)

        # HTTP: the caller's trace continues in the gateway, and through NATS in the monitor
        answer = gateway.post("/predict", json={"features": records(1)[0]},
                              headers={"traceparent": f"00-{CALLER[0]}-{CALLER[1]}-01"})
        assert answer.status_code == 200, answer.text
        spans = wait_trace(CALLER[0], {("driftline-gateway", "POST /predict"), ("driftline-monitor", " process")}, 90)
        servers = [s for s in spans if s.service == "driftline-gateway" and s.name == "POST /predict"]
        assert len(servers) == 1, (spans, received())
        server = servers[0]
        assert server.parent_id == CALLER[1]
        monitor = [s for s in spans if s.service == "driftline-monitor" and s.name.endswith(" process")]
        assert monitor and all(s.parent_id == server.span_id for s in monitor), spans  # a batch of one: a child

        # the bus: a request published with its caller's context, predicted by the worker, read by the monitor
        publish_request(env, f"00-{BUS_CALLER[0]}-{BUS_CALLER[1]}-01", settings.model_name)
        spans = wait_trace(BUS_CALLER[0], {("driftline-worker", ""), ("driftline-monitor", " process")}, 90)
        worker = {s.span_id: s for s in spans if s.service == "driftline-worker"}
        assert worker and any(s.parent_id == BUS_CALLER[1] for s in worker.values()), spans
        monitor = [s for s in spans if s.service == "driftline-monitor" and s.name.endswith(" process")]
        assert monitor and all(s.parent_id in worker for s in monitor), spans
    finally:
        alive = stop_up(proc)
        receiver.shutdown()
    assert proc.returncode == 0 and alive == [], alive


def publish_request(env: dict[str, str], traceparent: str, model: str) -> None:
    """A PredictionRequested on the bus carrying a caller's trace context, as another system would send it."""
    import asyncio
    from pathlib import Path

    from infra.bus import Bus
    from infra.nats_auth import AuthDir
    from producers.publisher import request_event

    # Another system publishes with the producers' credential that `up` wrote (the bus refuses anonymous clients).
    credential = AuthDir(Path(env["DRIFTLINE_DATA_DIR"]) / "auth").seed_file("producers")

    async def send():
        bus = await Bus.connect(f"nats://127.0.0.1:{env['DRIFTLINE_NATS_PORT']}", one_shot=True,
                                credential=credential)
        try:
            await bus.publish(request_event(records(1, start=9)[0], model=model, request_id="traced-bus"),
                              headers={"traceparent": traceparent})
        finally:
            await bus.close()

    asyncio.run(send())
