"""Audit family: checkpoints of the hash chain, signed by the projector, written into the audit stream itself."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.envelope import Event, Payload

CHECKPOINT = "driftline.audit.checkpoint"
CHECKPOINT_TYPE = "driftline.audit.checkpoint.v1"


class Checkpoint(Payload):
    last_sequence: int = Field(ge=1, description="Stream sequence of the last event covered.")
    head_hash: str = Field(pattern=r"^[0-9a-f]{64}$", examples=["0" * 64],
                           description="Chain hash after that event (sha256, hex).")
    events: int = Field(ge=1, description="Events covered since the start of the stream.")
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$", examples=["0" * 16],
                        description="Which checkpoint key signed: the first 16 hex digits of the sha256 of its raw "
                                    "Ed25519 public key (checkers hold the public keys, current and retired).")
    signature: str = Field(pattern=r"^[A-Za-z0-9_-]{86}$", examples=["A" * 86],
                           description="Ed25519 signature (base64url, no padding) by the audit projector's checkpoint "
                                       "key over signed_bytes(): the type, last_sequence, head_hash, events and "
                                       "key_id, one per line, UTF-8.")

    def signed_bytes(self) -> bytes:
        return signed_bytes(self.last_sequence, self.head_hash, self.events, self.key_id)


def signed_bytes(last_sequence: int, head_hash: str, events: int, key_id: str) -> bytes:
    """What a checkpoint's signature covers; the type first, so the signature vouches for nothing else."""
    return f"{CHECKPOINT_TYPE}\n{last_sequence}\n{head_hash}\n{events}\n{key_id}".encode()


class AuditCheckpoint(Event):
    """The audit projector vouches, with its signature, for the chain up to a sequence."""

    topic: ClassVar[str] = CHECKPOINT
    type: Literal["driftline.audit.checkpoint.v1"] = "driftline.audit.checkpoint.v1"
    data: Checkpoint
