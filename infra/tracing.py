"""Traces across the bus: W3C trace context in NATS headers, one span per hop, exported by the OTEL_* variables.

Off unless `configure` finds OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER
(anything but `none`). While off, every function here returns at its first line on `ENABLED`, and nothing reaches a
header or a row: bench/bench_http.py and bench/bench_bus.py print the cost, off and on, in one run.

Hops and their spans (names: `<consumer> <operation>`):
- the gateway starts or continues the caller's trace (`traceparent`) in a SERVER span (infra/tracing_http.py);
- a published event carries the context it was made in (`traceparent` beside `Nats-Msg-Id`); an event written to
  the outbox keeps it in its row, and the relay publishes it with it;
- the consumer runner continues it: a batch of one message is a child of that message; a batch of several traces
  is a span of its own linked to each, and handlers that take messages one by one (Routes, the worker, the
  notifier) open one child span per message in its own trace, linked to the batch;
- the monitor's window report and alerts fan in from a window of predictions: a span linked to them.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind

log = logging.getLogger(__name__)

ENABLED = False
TRACEPARENT = "traceparent"
MAX_LINKS = 128  # the SDK's default span link limit: a bigger fan-in keeps an even sample
_tracer: trace.Tracer = trace.NoOpTracer()
_provider = None

CONSUMER, PRODUCER, SERVER, INTERNAL = SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.SERVER, SpanKind.INTERNAL


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the OTEL_* variables ask for traces: an OTLP endpoint or an exporter, and the SDK not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def described(environ: Mapping[str, str]) -> str:
    """Where traces go, in the words of `driftline up`'s banner."""
    if not wanted(environ):
        return "off (set OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://127.0.0.1:4318, to export them)"
    return "to " + (environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                    or environ.get("OTEL_TRACES_EXPORTER", ""))


def configure(service: str, environ: Mapping[str, str]) -> str | None:
    """Turn tracing on for this process when the OTEL_* variables ask for it; returns where spans go (None: off).

    The SDK reads the rest of the standard variables itself: OTEL_SERVICE_NAME (default driftline-<service>),
    OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, OTEL_EXPORTER_OTLP_(TRACES_)HEADERS/TIMEOUT/...
    A broken exporter setting is logged and leaves the service untraced: observability never stops a service."""
    if not wanted(environ):
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:
        exporters = [_exporter(name.strip(), environ)
                     for name in (environ.get("OTEL_TRACES_EXPORTER") or "otlp").lower().split(",") if name.strip()]
    except (ImportError, ValueError) as exc:
        log.error("traces stay off: %s", exc)
        return None
    attributes = {"service.namespace": "driftline", "service.instance.id": f"{socket.gethostname()}:{os.getpid()}"}
    if not environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = f"driftline-{service}"
    provider = TracerProvider(resource=Resource.create(attributes))
    for exporter, _ in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    # Not the global provider: FastAPI (0.16x) traces every request through the global one by itself, which would
    # duplicate the gateway's and the page's spans and trace every probe and scrape (seen in the e2e dashboard run:
    # two "POST /predict" spans a request, one per "GET /metrics").
    install(provider)
    return ", ".join(where for _, where in exporters)


def _exporter(name: str, environ: Mapping[str, str]):
    """(exporter, where it sends) for one OTEL_TRACES_EXPORTER entry."""
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(), "console (stdout)"
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported here; use otlp, console or none")
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf").strip().lower()
    if protocol != "http/protobuf":
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: only http/protobuf is installed (an OTLP "
                         "collector takes it on port 4318); set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter()  # endpoint, headers, timeout, compression: from the OTEL_EXPORTER_OTLP_* variables
    return exporter, f"otlp {exporter._endpoint}"


def install(provider) -> None:
    """Trace with `provider` (an SDK TracerProvider): `configure` in services, an in-memory exporter in tests."""
    global ENABLED, _tracer, _provider
    _provider = provider
    _tracer = provider.get_tracer("driftline")
    ENABLED = True


def uninstall() -> None:
    global ENABLED, _tracer, _provider
    ENABLED, _tracer, _provider = False, trace.NoOpTracer(), None


def shutdown() -> None:
    """Flush what is queued (the batch processor exports every 5 s) and stop; called when a service stops."""
    provider = _provider
    uninstall()
    if provider is not None:
        provider.shutdown()


def tracer() -> trace.Tracer:
    return _tracer


def current_headers() -> dict[str, str]:
    """traceparent (and tracestate) of the span in hand, for a message or a row; {} when off or outside a span."""
    if not ENABLED:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def current_context() -> Context:
    from opentelemetry.context import get_current

    return get_current()


def current_traceparent() -> str | None:
    return current_headers().get(TRACEPARENT) if ENABLED else None


def extract(headers: Mapping[str, str] | None) -> Context | None:
    """The context a message or request carries, or None when it carries none (then a hop starts a new trace)."""
    if not ENABLED or not headers or TRACEPARENT not in headers:
        return None
    ctx = propagate.extract(headers)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def span_context(ctx: Context | None) -> trace.SpanContext | None:
    return trace.get_current_span(ctx).get_span_context() if ctx is not None else None


def _links(contexts: Iterable[Context | None]) -> list[Link]:
    seen: dict[tuple[int, int], trace.SpanContext] = {}
    for ctx in contexts:
        sc = span_context(ctx)
        if sc is not None and sc.is_valid:
            seen.setdefault((sc.trace_id, sc.span_id), sc)
    found = list(seen.values())
    if len(found) > MAX_LINKS:  # an even sample, first and last kept
        step = (len(found) - 1) / (MAX_LINKS - 1)
        found = [found[round(i * step)] for i in range(MAX_LINKS)]
    return [Link(sc) for sc in found]


@contextmanager
def batch_span(name: str, contexts: Sequence[Context | None], attributes: Mapping | None = None
               ) -> Iterator[Context | None]:
    """The span of one batch: the child of its message's trace when every message carries the same one (a batch
    of one), otherwise a new trace linked to each message's. Yields that shared parent (None: a new trace)."""
    if not ENABLED:
        yield None
        return
    first = contexts[0] if contexts else None
    sc = span_context(first)
    shared = first if sc is not None and all(
        (o := span_context(c)) is not None and o.span_id == sc.span_id and o.trace_id == sc.trace_id
        for c in contexts[1:]) else None
    links = () if shared is not None else _links(contexts)
    attrs = {"messaging.system": "nats", "messaging.operation.type": "process",
             "messaging.batch.message_count": len(contexts), **(attributes or {})}
    with _tracer.start_as_current_span(name, context=shared, kind=CONSUMER, attributes=attrs, links=links):
        yield shared


def continued(name: str, ctx: Context | None, attributes: Mapping | None = None):
    """A span for one message in its own trace, linked to the batch in hand; a no-op without a context."""
    if not ENABLED or ctx is None:
        return nullcontext()
    current = trace.get_current_span().get_span_context()
    links = [Link(current)] if current.is_valid else []
    return _tracer.start_as_current_span(name, context=ctx, kind=CONSUMER, attributes=attributes, links=links)


def fan_in(name: str, contexts: Iterable[Context | None], attributes: Mapping | None = None):
    """A span for something made of many messages (a monitor window): a child of the span in hand, linked to each."""
    if not ENABLED:
        return nullcontext()
    return _tracer.start_as_current_span(name, kind=INTERNAL, attributes=attributes, links=_links(contexts))


def start_children(name: str, contexts: Sequence[Context | None]) -> list[Span | None]:
    """One started span per message that has a context of its own (the others: None), each linked to the batch in
    hand; the caller ends them (`end`). The worker answers a batch in one model call and each answer continues its
    request's trace."""
    if not ENABLED:
        return [None] * len(contexts)
    current = trace.get_current_span().get_span_context()
    links = [Link(current)] if current.is_valid else []
    return [_tracer.start_span(name, context=ctx, kind=CONSUMER, links=links) if ctx is not None else None
            for ctx in contexts]


def headers_of(span: Span | None) -> dict[str, str] | None:
    """traceparent of a started span, to publish with the event it made; None without a span."""
    if span is None:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def end(spans: Iterable[Span | None]) -> None:
    for span in spans:
        if span is not None:
            span.end()


def log_ids() -> dict[str, str]:
    """trace_id and span_id of the span in hand, for a JSON log line; {} when off or outside a span."""
    if not ENABLED:
        return {}
    sc = trace.get_current_span().get_span_context()
    return {"trace_id": format(sc.trace_id, "032x"), "span_id": format(sc.span_id, "016x")} if sc.is_valid else {}


def exemplar() -> dict[str, str] | None:
    """{"trace_id": ...} of the sampled span in hand, for a histogram observation (OpenMetrics exemplar)."""
    if not ENABLED:
        return None
    sc = trace.get_current_span().get_span_context()
    if not sc.is_valid or not sc.trace_flags.sampled:
        return None
    return {"trace_id": format(sc.trace_id, "032x")}
