"""The CloudEvents 1.0 envelope every Driftline message travels in, and its id scheme."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Payload(BaseModel):
    """Base of every event body: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> str:
    """A UUIDv7: 48 bits of Unix milliseconds, then a per-process counter, then randomness.

    The counter keeps ids minted in the same millisecond strictly increasing in this process.
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = 0
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    return _text(_uuid7_int(ms, counter, rand))


def derived_id(cause_id: str, event_type: str, key: str = "") -> str:
    """A deterministic UUIDv7 for an event derived from another one.

    It keeps the cause's timestamp (so ids stay time-ordered) and takes the remaining bits
    from a hash of (cause, type, key): a redelivered cause re-emits the same id and
    JetStream's duplicate window drops the copy.
    """
    # The worker derives one per prediction: read the canonical form's time digits directly (3x cheaper than
    # building UUID objects); any other form goes through uuid.UUID, which also rejects what is not a UUID.
    ms = int(cause_id[:8] + cause_id[9:13], 16) if _CANONICAL.fullmatch(cause_id) else uuid.UUID(cause_id).int >> 80
    digest = int.from_bytes(hashlib.sha256(f"{cause_id}|{event_type}|{key}".encode()).digest()[:10], "big")
    return _text(_uuid7_int(ms, digest & 0xFFF, (digest >> 12) & ((1 << 62) - 1)))


_CANONICAL = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _uuid7_int(ms: int, rand_a: int, rand_b: int) -> int:
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand_a & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand_b & ((1 << 62) - 1)
    return value


def _text(value: int) -> str:
    """The canonical 8-4-4-4-12 form, as str(uuid.UUID(int=value)) writes it."""
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def id_time(event_id: str) -> datetime:
    """The creation time encoded in a UUIDv7 id."""
    return datetime.fromtimestamp((uuid.UUID(event_id).int >> 80) / 1000, tz=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _absent(value: Any) -> bool:
    return value is None


# CloudEvents 1.0: attribute names are lower-case a-z and 0-9 (extensions included), so the correlation and causation
# ids travel as the extension attributes `correlationid` and `causationid`. In Python they keep readable names.
_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]{1,20}")
CORRELATION = "correlationid"
CAUSATION = "causationid"


class Event(BaseModel):
    """A CloudEvents 1.0 envelope with a typed `data` body; subclasses fix `type` and `data`.

    Unknown extension attributes are accepted (valid names, scalar values) and carried through, as the
    specification asks of a consumer; events written before the rename (`correlation_id`) are still read.
    """

    model_config = ConfigDict(frozen=True, extra="allow", validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True)

    # Set on every concrete subclass: the NATS subject the event is published on.
    topic: ClassVar[str] = ""

    specversion: Literal["1.0"] = Field("1.0", description="CloudEvents specification version.")
    id: str = Field(default_factory=new_id, description="Time-ordered unique id (UUIDv7); also the Nats-Msg-Id.")
    type: str = Field(description="Versioned event type, e.g. driftline.alert.raised.v1.")
    source: str = Field(description="Who emitted the event, e.g. inference/worker.")
    time: datetime = Field(default_factory=utcnow, description="When the event was emitted (UTC).")
    subject: str = Field(description="What the event is about, usually the model name.")
    datacontenttype: str | None = Field(None, exclude_if=_absent, description="Media type of `data` (JSON).")
    dataschema: str | None = Field(None, exclude_if=_absent, description="URI of the schema `data` adheres to.")
    correlation_id: str = Field(
        "", alias=CORRELATION,
        description="Extension attribute: id of the first event of the chain; defaults to this event's own id.",
    )
    causation_id: str | None = Field(None, alias=CAUSATION, exclude_if=_absent,
                                     description="Extension attribute: id of the event that directly caused this one.")
    data: Any = Field(description="The typed payload.")

    @model_validator(mode="before")
    @classmethod
    def _default_correlation(cls, values: Any) -> Any:
        if isinstance(values, dict) and not (values.get(CORRELATION) or values.get("correlation_id")):
            values = dict(values)
            values.setdefault("id", new_id())
            values[CORRELATION] = values["id"]
        return values

    @model_validator(mode="after")
    def _valid(self) -> Event:
        if self.time.tzinfo is None:
            raise ValueError("time must carry a timezone (UTC)")
        for name, value in (self.model_extra or {}).items():
            if not _ATTRIBUTE_NAME.fullmatch(name):
                raise ValueError(f"extension attribute {name!r}: CloudEvents names are 1-20 characters a-z, 0-9")
            if value is not None and not isinstance(value, str | int | bool):
                raise ValueError(f"extension attribute {name!r} must be a string, integer or boolean")
        return self

    @classmethod
    def type_name(cls) -> str:
        """The versioned type of this event class, e.g. driftline.alert.raised.v1."""
        return cls.model_fields["type"].default

    @property
    def extensions(self) -> dict[str, Any]:
        """Extension attributes other than ours that the event arrived with."""
        return dict(self.model_extra or {})

    def caused(self, event_cls: type[E], *, source: str, data: Any, key: str = "", subject: str | None = None,
               **envelope: Any) -> E:
        """An event caused by this one: same correlation id, deterministic id (a redelivered cause re-emits it).

        `envelope` overrides other attributes (e.g. `time`, or `correlation_id` for an event opening a chain).
        """
        envelope.setdefault("correlation_id", self.correlation_id)
        return derive(event_cls, cause_id=self.id, subject=subject or self.subject, source=source, data=data, key=key,
                      **envelope)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


from typing import TypeVar  # noqa: E402  (after Event so the bound resolves)

E = TypeVar("E", bound=Event)


def derive(event_cls: type[E], *, cause_id: str, correlation_id: str, subject: str, source: str, data: Any,
           key: str = "", **envelope: Any) -> E:
    """The one way an event is derived from its cause, also when only the cause's id is at hand (a stored row):
    id = derived_id(cause, type, key), causation = the cause, correlation carried over."""
    fields: dict[str, Any] = dict(id=derived_id(cause_id, event_cls.type_name(), key), source=source, subject=subject,
                                  correlation_id=correlation_id, causation_id=cause_id, data=data)
    fields.update(envelope)
    return event_cls(**fields)
