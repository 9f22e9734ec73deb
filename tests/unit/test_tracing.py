"""Tracing's pure parts: when the OTEL_* variables turn it on, how a batch span continues or links its messages,
which trace context a published event carries, and the ids in a JSON log line."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace

from infra import tracing
from infra.bus import TYPE_HEADER, event_headers
from infra.logs import JsonFormatter
from producers.publisher import request_event
from tests.traces import Parent, ids, linked, parent_of


@pytest.mark.parametrize(("environ", "on"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, False),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, False),
])
def test_the_standard_variables_turn_traces_on(environ, on):
    assert tracing.wanted(environ) is on
    assert tracing.described(environ).startswith("to " if on else "off")


@pytest.mark.parametrize(("environ", "says"), [
    ({"OTEL_TRACES_EXPORTER": "zipkin"}, "use otlp, console or none"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "http/protobuf"),
])
def test_an_exporter_that_is_not_installed_leaves_the_service_untraced_and_says_why(environ, says, caplog):
    with caplog.at_level(logging.ERROR):
        assert tracing.configure("worker", environ) is None
    assert not tracing.ENABLED and says in caplog.text


def contexts(n: int):
    out, made = [], []
    for i in range(n):
        with tracing.tracer().start_as_current_span(f"client {i}") as span:
            out.append(tracing.extract(tracing.current_headers()))
        made.append(ids(span))
    return out, made


def test_a_batch_of_one_continues_its_trace_and_a_batch_of_many_links_each(recorded_spans):
    (one,), (client,) = contexts(1)
    with tracing.batch_span("c process", [one]) as shared:
        assert shared is one
    many, clients = contexts(3)
    with tracing.batch_span("c process", many + [None]) as shared:  # a message without a context starts nothing
        assert shared is None
    first, second = [s for s in recorded_spans.get_finished_spans() if s.name == "c process"]
    assert parent_of(first) == client and not first.links
    assert parent_of(second) is None and linked(second) == set(clients)
    assert second.attributes["messaging.batch.message_count"] == 4


def test_a_fan_in_keeps_an_even_sample_of_at_most_128_links(recorded_spans):
    many, clients = contexts(300)
    with tracing.fan_in("monitor window", many):
        pass
    [window] = [s for s in recorded_spans.get_finished_spans() if s.name == "monitor window"]
    kept = linked(window)
    assert len(kept) == tracing.MAX_LINKS and clients[0] in kept and clients[-1] in kept


def test_an_event_carries_its_own_context_else_the_span_in_hand_and_a_callers_header_wins(recorded_spans):
    event = request_event({"x": 1.0}, model="m")
    assert "traceparent" not in event_headers(event)  # outside any span: nothing
    with tracing.tracer().start_as_current_span("handler") as span:
        ambient = tracing.current_headers()
    carried = event_headers(event, trace=ambient)
    assert Parent.parse(carried["traceparent"]) == ids(span) and carried[TYPE_HEADER] == event.type
    mine = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    assert event_headers(event, {"traceparent": mine}, trace=ambient)["traceparent"] == mine


def test_with_tracing_off_nothing_reaches_a_header_or_a_log_line():
    assert not tracing.ENABLED
    with trace.NoOpTracer().start_as_current_span("x"):
        assert tracing.current_headers() == {} and tracing.exemplar() is None and tracing.log_ids() == {}
    event = request_event({"x": 1.0}, model="m")
    assert "traceparent" not in event_headers(event, trace={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})


def test_a_json_log_line_names_its_trace(recorded_spans):
    record = logging.LogRecord("driftline", logging.INFO, __file__, 1, "hello", None, None)
    with tracing.tracer().start_as_current_span("handler") as span:
        line = json.loads(JsonFormatter().format(record))
        assert tracing.exemplar() == {"trace_id": ids(span).trace_id}
    assert (line["trace_id"], line["span_id"]) == (ids(span).trace_id, ids(span).span_id)


async def test_an_empty_fetch_is_no_span_and_a_fetched_message_is_one(recorded_spans):
    from infra.consumer import ConsumerSpec, RawBatchRunner

    handled: list[list] = []

    async def handler(msgs):
        handled.append(msgs)

    class Msg:  # what the raw runner reads of a fetched message: its headers and subject
        headers = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
        subject = "driftline.audit.x"

    runner = RawBatchRunner(None, ConsumerSpec("audit-projector", "AUDIT", ("driftline.>",)), handler)
    await runner.handle_batch([])
    assert handled == [[]] and recorded_spans.get_finished_spans() == ()
    await runner.handle_batch([Msg()])
    [span] = recorded_spans.get_finished_spans()
    assert span.name == "audit-projector process" and parent_of(span).span_id == "00f067aa0ba902b7"
