"""Traces on the serving paths, on a real nats-server: /predict through the real gateway to the stored prediction
event and the consumer that reads it; bus requests through the real worker, one batch of several traces."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
import uvicorn
from opentelemetry.trace import SpanKind

from inference.gateway import create_app
from inference.model_holder import ModelHolder
from inference.worker import DURABLE, InferenceWorker
from infra import tracing
from infra.consumer import ConsumerRunner, ConsumerSpec, Routes
from infra.processes import free_port
from producers.publisher import request_and_wait, request_event
from schemas import PredictionMade, parse_event
from schemas.streams import PREDICTIONS
from tests.integration.stored import stored
from tests.traces import Parent, ids, linked, parent_of, spans_named
from tests.unit.inference.models import memory_model, records

pytestmark = pytest.mark.integration

CALLER = Parent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


@contextlib.asynccontextmanager
async def gateway(settings, bus):
    holder = ModelHolder(settings)
    holder.swap(memory_model(version="7"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, bus, holder), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await task


async def test_predict_to_its_prediction_event_and_the_consumer_of_it_is_one_trace(settings, bus, recorded_spans):
    consumed: list = []

    async def on_made(item):
        consumed.append((item.event, tracing.current_headers()))

    spec = ConsumerSpec.routed("trace-reader", PREDICTIONS.name, Routes({PredictionMade: on_made}))
    runner = ConsumerRunner(bus, spec, Routes({PredictionMade: on_made}))
    stop = asyncio.Event()
    async with gateway(settings, bus) as client:
        answer = await client.post("/predict", json={"features": records(1)[0]},
                                   headers={"traceparent": CALLER.header()})
        assert answer.status_code == 200, answer.text
        await client.get("/health")
        [msg] = await stored(bus, "driftline.prediction.made", 1)
        scrape = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        reading = asyncio.create_task(runner.run(stop))
        async with asyncio.timeout(20):
            while not consumed:
                await asyncio.sleep(0.05)
        stop.set()
        await reading

    # the gateway continued the caller's trace, and the event carries the gateway's span onto the bus
    [server] = spans_named(recorded_spans, "POST /predict", SpanKind.SERVER)
    assert parent_of(server) == CALLER and ids(server).trace_id == CALLER.trace_id
    assert server.attributes["http.route"] == "/predict" and server.attributes["http.response.status_code"] == 200
    event = parse_event(msg.data)
    assert event.data.request_id == answer.json()["request_id"]
    assert Parent.parse(msg.headers["traceparent"]) == ids(server)
    # the consumer runner continued it: its span is the child of the gateway's, and the handler ran inside it
    [process] = spans_named(recorded_spans, "trace-reader process", SpanKind.CONSUMER)
    assert parent_of(process) == ids(server)
    [(seen, headers)] = consumed
    assert seen.id == event.id and Parent.parse(headers["traceparent"]) == ids(process)
    # probes are not traced; the latency histogram names the trace as its exemplar (OpenMetrics)
    assert not spans_named(recorded_spans, "GET /health")
    assert scrape.headers["content-type"].startswith("application/openmetrics-text")
    buckets = [line for line in scrape.text.splitlines()
               if line.startswith("driftline_http_request_duration_seconds_bucket{") and 'route="/predict"' in line]
    assert any(f'# {{trace_id="{CALLER.trace_id}"}}' in line for line in buckets), buckets


async def test_bus_requests_in_one_batch_each_continue_their_own_trace(settings, bus, recorded_spans):
    producer = tracing.tracer()
    requests, producers = [], []
    for i, record in enumerate(records(5)):
        with producer.start_as_current_span(f"client {i}") as span:
            request = request_event(record, model=settings.model_name, request_id=f"t{i}")
            await bus.publish(request)
        requests.append(request)
        producers.append(ids(span))

    holder = ModelHolder(settings)
    holder.swap(memory_model(version="7"))
    worker = InferenceWorker(settings.model_copy(update={"worker_batch_wait_s": 0.05}), bus, holder)
    runner = worker.runner()
    stop = asyncio.Event()
    await runner.setup()  # the five wait already: the first pull takes them in one batch
    task = asyncio.create_task(runner.run(stop))
    try:
        made = await stored(bus, "driftline.prediction.made", 5)
        with producer.start_as_current_span("client sync") as sync_span:
            answer = await request_and_wait(bus, records(1, start=50)[0], model=settings.model_name,
                                            request_id="sync")
    finally:
        stop.set()
        await task

    by_request = {parse_event(m.data).data.request_id: Parent.parse(m.headers["traceparent"]) for m in made}
    batches = spans_named(recorded_spans, f"{DURABLE} process", SpanKind.CONSUMER)
    [batch] = [b for b in batches if b.attributes["messaging.batch.message_count"] == 5]
    assert parent_of(batch) is None and linked(batch) == set(producers)  # a trace of its own, linked to each
    predicts = {ids(s): s for s in spans_named(recorded_spans, f"{DURABLE} predict")}
    for i, producer_span in enumerate(producers):
        carried = by_request[f"t{i}"]
        assert carried.trace_id == producer_span.trace_id  # the request's own trace, not the batch's
        span = predicts[carried]  # published under the worker's span for that request ...
        assert parent_of(span) == producer_span and linked(span) == {ids(batch)}  # ... linked to the batch
    # a batch of one is simply the next hop of its request's trace
    assert isinstance(answer, PredictionMade)
    [single] = [b for b in batches if parent_of(b) == ids(sync_span)]
    assert single.attributes["messaging.batch.message_count"] == 1
