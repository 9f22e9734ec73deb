"""One trace from an alert to the action it caused, through the real agent on a real nats-server and PostgreSQL:
alert -> diagnoser -> (outbox) diagnosis -> gate -> (outbox) schedule -> executor -> completed."""

from __future__ import annotations

import asyncio

import pytest

from infra import tracing
from schemas import ActionCompleted, ActionScheduled, DiagnosisMade, parse_event
from tests.integration.agent_helpers import running_agent
from tests.traces import Parent, ids, in_trace, parent_of
from tests.unit.agent.alerts import alert

pytestmark = pytest.mark.integration


async def test_an_alert_and_the_actions_it_caused_are_one_trace(bus, settings, database_url, recorded_spans):
    seen: list[tuple[object, dict]] = []

    async def on_msg(msg):
        try:
            seen.append((parse_event(msg.data), dict(msg.headers or {})))
        except Exception:  # dead letters and raw copies are not events
            pass

    sub = await bus.nc.subscribe("driftline.>", cb=on_msg)
    agent_settings = settings.model_copy(update={"database_url": database_url, "agent_expiry_interval_s": 3600})
    async with running_agent(agent_settings):
        with tracing.tracer().start_as_current_span("alert source") as source:  # e.g. the gateway's webhook
            await bus.publish(alert(value=0.25))  # low severity: log_error and send_alert run at once
        async with asyncio.timeout(30):
            while sum(isinstance(e, ActionCompleted) for e, _ in seen) < 2:
                await asyncio.sleep(0.05)
    await sub.unsubscribe()

    origin = ids(source)
    spans = {ids(s): s for s in in_trace(recorded_spans, origin.trace_id)}

    def path_to_origin(header: str) -> list[str]:
        """Span names from the span a message was published in back to the alert's source."""
        names, at = [], Parent.parse(header)
        while at != origin:
            span = spans[at]  # a span of the trace every hop carried (KeyError: the chain is broken)
            names.append(span.name)
            at = parent_of(span)
        return names

    by_type = {}
    for event, headers in seen:
        by_type.setdefault(type(event), []).append((event, headers))
    [(diagnosis, diagnosis_headers)] = by_type[DiagnosisMade]  # published by the outbox relay
    assert path_to_origin(diagnosis_headers["traceparent"]) == ["agent-diagnoser process"]
    scheduled = by_type[ActionScheduled]
    assert sorted(e.data.action.kind for e, _ in scheduled) == ["log_error", "send_alert"]
    for _, headers in scheduled:  # the gate's outbox rows kept the context of the diagnosis it handled
        assert path_to_origin(headers["traceparent"]) == ["agent-gate process", "agent-diagnoser process"]
    completed = by_type[ActionCompleted]
    assert sorted(e.data.kind for e, _ in completed) == ["log_error", "send_alert"]
    for event, headers in completed:
        assert event.correlation_id == diagnosis.correlation_id
        assert path_to_origin(headers["traceparent"]) == ["agent-executor process", "agent-gate process",
                                                          "agent-diagnoser process"]
