"""Who consumes and publishes what on the bus, declared once with FastStream so it can render the AsyncAPI
document. The handlers here are never run: the services' real consumers are infra.consumer.ConsumerRunner
loops (explicit acks, dead-lettering); this map documents their subjects, durables and payload types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from faststream.nats import NatsBroker, PullSub
from faststream.specification import AsyncAPI

from schemas import (
    ActionCompleted,
    ActionEscalated,
    ActionFailed,
    ActionScheduled,
    ActionStarted,
    ActionVerified,
    AlertCleared,
    AlertRaised,
    ApprovalDecided,
    ApprovalExpired,
    ApprovalRefused,
    ApprovalRequested,
    AuditCheckpoint,
    DataRejected,
    DataValidated,
    DiagnosisMade,
    DriftReported,
    Event,
    LabelReceived,
    ModelPromoted,
    ModelRolledBack,
    ModelTrained,
    PredictionFailed,
    PredictionMade,
    PredictionRequested,
)
from schemas.streams import stream_for


@dataclass(frozen=True)
class Route:
    service: str
    durable: str | None  # None: the service publishes only
    consumes: tuple[type[Event], ...]
    publishes: tuple[type[Event], ...]
    summary: str


ROUTES = (
    Route("producers", None, (), (PredictionRequested, LabelReceived), "driftline publish / simulate"),
    Route("gateway", None, (), (PredictionMade, AlertRaised), "POST /predict; Alertmanager and Evidently webhooks"),
    Route("worker", "inference-worker", (PredictionRequested,), (PredictionMade, PredictionFailed),
          "micro-batched predictions; answers the Driftline-Reply-To inbox"),
    Route("monitor", "monitor", (PredictionMade, LabelReceived), (DriftReported, AlertRaised, AlertCleared),
          "data, prediction and quality drift per event; a report per window"),
    Route("agent-diagnoser", "agent-diagnoser", (AlertRaised, AlertCleared, DriftReported, ActionCompleted,
                                                 ActionFailed, ActionEscalated, ModelPromoted, ModelRolledBack),
          (DiagnosisMade, ActionVerified), "scores incidents as their evidence grows, proposes, verifies repairs"),
    Route("agent-gate", "agent-gate", (DiagnosisMade,), (ActionScheduled, ApprovalRequested, ActionEscalated),
          "automatic actions at once, risky ones to a person"),
    Route("agent-approvals", None, (),
          (ApprovalRequested, ApprovalDecided, ApprovalRefused, ApprovalExpired, ActionScheduled, ActionEscalated),
          "the approvals owner: people's requests and decisions (page, terminal) and expiries, via the outbox relay"),
    Route("agent-executor", "agent-executor", (ActionScheduled,),
          (ActionStarted, ActionCompleted, ActionFailed, ModelTrained, ModelPromoted, ModelRolledBack),
          "runs each action once by action id"),
    Route("trainer", None, (), (DataValidated, DataRejected, ModelTrained, ModelPromoted), "driftline train"),
    Route("notifier", "notifier", (AlertRaised, ActionEscalated, ApprovalRequested, ModelPromoted, ActionCompleted,
                                   ActionFailed), (ActionCompleted, ActionFailed), "email and Slack"),
    Route("reports", "report-builder", (ModelPromoted, AlertRaised, ActionCompleted, ActionFailed, ActionEscalated),
          (), "PDF reports"),
    Route("projector", "audit-projector", (), (AuditCheckpoint,),
          "every AUDIT event into PostgreSQL with a hash chain"),
)


def build_broker() -> NatsBroker:
    broker = NatsBroker("nats://127.0.0.1:4222")
    for route in ROUTES:
        for cls in route.consumes:
            _declare_subscriber(broker, route, cls)
        for cls in route.publishes:
            broker.publisher(cls.topic, schema=cls, title=f"{route.service} publishes {cls.topic}",
                             description=(cls.__doc__ or "").strip())
    return broker


def _declare_subscriber(broker: NatsBroker, route: Route, cls: type[Event]) -> None:
    async def handler(event) -> None:  # documentation only: never subscribed
        return None

    handler.__annotations__ = {"event": cls, "return": None}  # FastStream reads the payload type from here
    handler.__name__ = f"{route.durable}_{cls.__name__}"
    broker.subscriber(cls.topic, stream=stream_for(cls.topic).name, durable=route.durable,
                      pull_sub=PullSub(batch=True), title=f"{route.service} consumes {cls.topic}",
                      description=f"{route.summary} (durable {route.durable})")(handler)


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the bus, rendered by FastStream from the routes above."""
    spec = AsyncAPI(build_broker(), title="Driftline bus", version="1.0.0", schema_version="3.0.0",
                    description="Typed CloudEvents on NATS JetStream. Streams: REQUESTS and PREDICTIONS (data plane), "
                                "AUDIT (control events, the audit trail), DLQ (driftline.dlq.<consumer>: poison "
                                "messages with their error).").to_specification()
    return json.loads(spec.to_json())
