"""Who consumes and publishes what on the bus, rendered by FastStream as the AsyncAPI document.

What a service consumes is read from its wiring module, never written twice: each driftline/run_<service>.py has
`consumer_specs(settings)`, the ConsumerSpecs its main() runs, `FOLLOWS`, the model events its champion
follower (a live subscription in every process) reacts to, and `FOLLOWS_CONFIG`, the configuration events its
runtime config follower (a live subscription in every process, infra/runtime_config.py) applies. What a service
publishes, which streams it reads from the start (infra.stream_reader), what it listens to live and what it may purge
are declared here, once; driftline/bus_permissions.py turns all of it into the permissions of each NATS credential
(issue 15). The FastStream handlers are never run: the services' consumers are infra.consumer runners (explicit acks,
dead-lettering)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from faststream.nats import NatsBroker, PullSub
from faststream.specification import AsyncAPI

from driftline.services import SERVICES
from infra.champion import SUBJECT as CHAMPION_SUBJECT
from infra.runtime_config import SUBJECT as CONFIG_SUBJECT
from infra.settings import Settings
from schemas import (
    EVENT_TYPES,
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
    ConfigChanged,
    DataRejected,
    DataValidated,
    DiagnosisMade,
    DriftReported,
    Event,
    LabelReceived,
    ModelPromoted,
    ModelReloadRequested,
    ModelRolledBack,
    ModelShadowDecided,
    ModelTrained,
    PredictionFailed,
    PredictionMade,
    PredictionRequested,
    PredictionShadowed,
)
from schemas.streams import AUDIT, PREDICTIONS, REQUESTS, subjects_overlap

# What each service publishes (its process's one NATS connection), and what the commands publish.
PUBLISHES: dict[str, tuple[type[Event], ...]] = {
    "projector": (AuditCheckpoint,),
    "worker": (PredictionMade, PredictionFailed, PredictionShadowed),
    # /predict (and the challengers in its shadow); the Alertmanager and Evidently webhooks
    "gateway": (PredictionMade, PredictionShadowed, AlertRaised, AlertCleared),
    "monitor": (DriftReported, AlertRaised, AlertCleared, ModelShadowDecided),  # shadow tests: sequential.py
    # Diagnoser, gate, executor, and the outbox relay: it publishes what the approvals owner wrote, also for the
    # page and the terminal (requests, decisions, refusals, expiries, the actions they schedule or escalate).
    # A retrain runs the trainer in-process and publishes its events; change_config announces ConfigChanged.
    "agent": (DiagnosisMade, ActionVerified, ActionScheduled, ApprovalRequested, ApprovalDecided, ApprovalRefused,
              ApprovalExpired, ActionEscalated, ActionStarted, ActionCompleted, ActionFailed, DataValidated,
              DataRejected, ModelTrained, ModelPromoted, ModelRolledBack, ModelReloadRequested, ConfigChanged),
    "notifier": (ActionCompleted, ActionFailed),  # each delivery, as a send_alert action
    "ui": (),  # people's requests and decisions go through the approvals outbox; the agent's relay publishes them
}
COMMANDS: dict[str, tuple[str, tuple[type[Event], ...]]] = {
    "producers": ("driftline publish / simulate", (PredictionRequested, LabelReceived)),
    "trainer": ("driftline train", (DataValidated, DataRejected, ModelTrained, ModelPromoted)),
}
# Streams read from the start, a sequence or a time (infra.stream_reader, by direct get), by service or command.
READS: dict[str, tuple[str, ...]] = {
    # approvals rebuilt from AUDIT at start; a rollback finds earlier promotions in AUDIT; a retrain reads labelled
    # production rows (PREDICTIONS); delete_data counts what it removes (REQUESTS, PREDICTIONS)
    "agent": (AUDIT.name, PREDICTIONS.name, REQUESTS.name),
    "notifier": (AUDIT.name, PREDICTIONS.name),  # the automatic reports: an incident's story, current data
    "ui": (PREDICTIONS.name,),  # the latency chart
    "reports": (AUDIT.name, PREDICTIONS.name),  # driftline report
    "auditor": (AUDIT.name,),  # driftline audit verify / replay / rebuild, and tools outside: AUDIT and nothing else
}
# Live subjects a service listens to with a plain subscription (besides its champion follower).
LISTENS: dict[str, tuple[str, ...]] = {"ui": ("driftline.approval.>",)}  # the page's live pending count
# Streams a service may purge: the agent's delete_data, human only (two admins), and no other stream.
PURGES: dict[str, tuple[str, ...]] = {"agent": (REQUESTS.name, PREDICTIONS.name)}
# Who answers a request on the inbox its Driftline-Reply-To header names (the answers subtree of any inbox).
ANSWERS: tuple[str, ...] = ("worker",)


@dataclass(frozen=True)
class Subscription:
    """One consumer of a service: a durable (shared by its replicas) or, durable None, a live subscription in
    every process (the champion follower)."""

    service: str
    durable: str | None
    stream: str
    subjects: tuple[str, ...]
    events: tuple[type[Event], ...]


def matching(subjects: tuple[str, ...]) -> tuple[type[Event], ...]:
    """The event types whose subject one of these filter subjects takes."""
    classes = dict.fromkeys(cls for cls in EVENT_TYPES.values() if any(subjects_overlap(s, cls.topic) for s in subjects))
    return tuple(classes)


def subscriptions(settings: Settings | None = None) -> list[Subscription]:
    """Every consumer every service runs, read from the wiring modules (a missing module is an error)."""
    settings = settings or Settings()
    found = []
    for service in SERVICES.values():
        module = service.module
        for spec in module.consumer_specs(settings):
            found.append(Subscription(service.name, spec.durable, spec.stream, spec.subjects, matching(spec.subjects)))
        follows = getattr(module, "FOLLOWS", ())
        if follows:
            found.append(Subscription(service.name, None, AUDIT.name, (CHAMPION_SUBJECT,), tuple(follows)))
        config = getattr(module, "FOLLOWS_CONFIG", ())
        if config:
            found.append(Subscription(service.name, None, AUDIT.name, (CONFIG_SUBJECT,), tuple(config)))
    return found


def build_broker(settings: Settings | None = None) -> NatsBroker:
    broker = NatsBroker("nats://127.0.0.1:4222")
    for sub in subscriptions(settings):
        for cls in sub.events:
            _declare_subscriber(broker, sub, cls)
    publishers = {name: (SERVICES[name].summary, classes) for name, classes in PUBLISHES.items()} | COMMANDS
    for name, (summary, classes) in publishers.items():
        for cls in classes:
            broker.publisher(cls.topic, schema=cls, title=f"{name} publishes {cls.topic}",
                             description=f"{(cls.__doc__ or '').strip()} ({summary})")
    return broker


def follower_name(sub: Subscription) -> str:
    """What a per-process follower is called in the document."""
    return "config follower" if sub.subjects == (CONFIG_SUBJECT,) else "champion follower"


def _declare_subscriber(broker: NatsBroker, sub: Subscription, cls: type[Event]) -> None:
    async def handler(event) -> None:  # documentation only: never subscribed
        return None

    handler.__annotations__ = {"event": cls, "return": None}  # FastStream reads the payload type from here
    handler.__name__ = f"{sub.durable or sub.service + '_follower'}_{cls.__name__}"
    who = f"{sub.service} ({sub.durable or follower_name(sub)})"
    how = f"durable {sub.durable}" if sub.durable else "a live subscription in every process"
    broker.subscriber(cls.topic, stream=sub.stream, durable=sub.durable, pull_sub=PullSub(batch=True) if sub.durable
                      else None, title=f"{who} consumes {cls.topic}",
                      description=f"{SERVICES[sub.service].summary} ({how})")(handler)


def asyncapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the bus, rendered by FastStream from the subscriptions and publishers above."""
    spec = AsyncAPI(build_broker(settings), title="Driftline bus", version="1.0.0", schema_version="3.0.0",
                    description="Typed CloudEvents on NATS JetStream. Streams: REQUESTS and PREDICTIONS (data plane), "
                                "AUDIT (control events, the audit trail), DLQ (driftline.dlq.<consumer>: poison "
                                "messages with their error).").to_specification()
    return json.loads(spec.to_json())
