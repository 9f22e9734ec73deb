"""The JetStream streams of the bus, as plain data (infra turns them into server config)."""

from __future__ import annotations

from dataclasses import dataclass, field

PREFIX = "driftline"
DLQ_PREFIX = f"{PREFIX}.dlq"


def dlq_subject(consumer: str) -> str:
    """Where a consumer's poison messages go."""
    return f"{DLQ_PREFIX}.{consumer}"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    immutable: bool = False  # deny_delete + deny_purge, unlimited retention
    description: str = ""
    extra: dict = field(default_factory=dict)


PREDICTIONS = StreamSpec(
    "PREDICTIONS",
    (f"{PREFIX}.prediction.>", f"{PREFIX}.feedback.>"),
    description="Data plane: prediction requests, predictions and late labels.",
)
AUDIT = StreamSpec(
    "AUDIT",
    tuple(
        f"{PREFIX}.{family}.>"
        for family in ("data", "model", "monitoring", "alert", "diagnosis", "approval", "action", "audit")
    ),
    immutable=True,
    description="Control plane and audit trail: append-only, never deleted or purged.",
)
DLQ = StreamSpec("DLQ", (f"{DLQ_PREFIX}.>",), description="Poison messages with their errors.")

ALL_STREAMS = (PREDICTIONS, AUDIT, DLQ)


def stream_for(subject: str) -> StreamSpec:
    """The stream that stores a subject."""
    for spec in ALL_STREAMS:
        for pattern in spec.subjects:
            if subject.startswith(pattern[:-1]):
                return spec
    raise KeyError(f"no stream stores subject {subject!r}")
