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


# Requests and predictions live in two streams, although both are the data plane: every stored message costs the
# server a write (and, with sync_interval always, an fsync) under its stream's lock, and a bus prediction stores
# two. In one stream those writes queue behind each other; in two they proceed side by side. bench/bench_bus.py
# measured the worker at medians of 35-39% of the raw publish ceiling with one stream, 44-52% with two.
REQUESTS = StreamSpec(
    "REQUESTS",
    (f"{PREFIX}.prediction.requested",),
    description="Data plane, in: prediction requests waiting for the inference worker.",
)
PREDICTIONS = StreamSpec(
    "PREDICTIONS",
    (f"{PREFIX}.prediction.made", f"{PREFIX}.prediction.failed", f"{PREFIX}.prediction.shadowed",
     f"{PREFIX}.feedback.>"),
    description="Data plane, out: predictions, challengers' shadow predictions, failed requests and late labels.",
)
AUDIT = StreamSpec(
    "AUDIT",
    tuple(
        f"{PREFIX}.{family}.>"
        for family in ("data", "model", "monitoring", "alert", "diagnosis", "approval", "action", "audit", "config")
    ),
    immutable=True,
    description="Control plane and audit trail: append-only, never deleted or purged.",
)
DLQ = StreamSpec("DLQ", (f"{DLQ_PREFIX}.>",), description="Poison messages with their errors.")

# PREDICTIONS before REQUESTS: a store made before the split has driftline.prediction.> in PREDICTIONS, which must
# shrink before REQUESTS may take driftline.prediction.requested (streams may not overlap).
ALL_STREAMS = (PREDICTIONS, REQUESTS, AUDIT, DLQ)
DATA_PLANE = (REQUESTS, PREDICTIONS)


def subjects_overlap(a: str, b: str) -> bool:
    """Whether two subjects or filters can match a common subject (token by token; `*` one token, `>` the rest)."""
    left, right = a.split("."), b.split(".")
    for x, y in zip(left, right, strict=False):
        if ">" in (x, y):
            return True
        if x != y and "*" not in (x, y):
            return False
    return len(left) == len(right)


def streams_storing(subject: str) -> list[StreamSpec]:
    """Every stream whose subjects take `subject` (the design wants exactly one)."""
    return [spec for spec in ALL_STREAMS if any(subjects_overlap(subject, p) for p in spec.subjects)]


def stream_for(subject: str) -> StreamSpec:
    """The stream that stores a subject."""
    found = streams_storing(subject)
    if not found:
        raise KeyError(f"no stream stores subject {subject!r}")
    return found[0]
