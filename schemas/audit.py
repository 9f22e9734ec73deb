"""Audit family: checkpoints of the hash chain, written into the audit stream itself."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.envelope import Event, Payload

CHECKPOINT = "driftline.audit.checkpoint"


class Checkpoint(Payload):
    last_sequence: int = Field(description="Stream sequence of the last event covered.")
    head_hash: str = Field(description="Chain hash after that event.")
    events: int = Field(description="Events covered since the start of the stream.")


class AuditCheckpoint(Event):
    """The audit projector vouches for the chain up to a sequence."""

    topic: ClassVar[str] = CHECKPOINT
    type: Literal["driftline.audit.checkpoint.v1"] = "driftline.audit.checkpoint.v1"
    data: Checkpoint
