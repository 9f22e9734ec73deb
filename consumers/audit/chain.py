"""The hash chain: canonical JSON of a stored message and hash = sha256(prev_hash || canonical)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, NamedTuple

import orjson

GENESIS = "0" * 64


def parse_document(raw: bytes) -> dict[str, Any]:
    """The message as a JSON object; bytes that are not one (or hold NaN or Infinity) come back wrapped.

    Wrapping keeps an invalid message in the chain instead of leaving a hole in it.
    """
    try:
        # A run of 19 digits may be an integer past 64 bits, which orjson would turn into a float.
        long_digits = _LONG_DIGITS.search(raw)
        doc = json.loads(raw, parse_constant=_refuse_constant) if long_digits else orjson.loads(raw)
    except (ValueError, UnicodeDecodeError, TypeError):
        doc = None
    if not isinstance(doc, dict):
        doc = {"invalid_message_base64": base64.b64encode(bytes(raw)).decode()}
    return doc


def parse_canonical(raw: bytes) -> tuple[dict[str, Any], str]:
    """(document, canonical text): sorted keys, no spaces, UTF-8."""
    doc = parse_document(raw)
    try:
        # orjson writes the same canonical form (sorted keys, no spaces, UTF-8) several times faster ...
        text = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # ... but only for integers within 64 bits; the standard library takes the rest
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        try:
            text.encode()
        except UnicodeEncodeError:  # a lone surrogate (\\ud800) is no UTF-8 text: keep the bytes, wrapped
            doc = {"invalid_message_base64": base64.b64encode(bytes(raw)).decode()}
            text = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()
    return doc, text


_LONG_DIGITS = re.compile(rb"\d{19}")


def _refuse_constant(name: str):
    # NaN and Infinity are not JSON: such a message is kept as wrapped bytes, exactly.
    raise ValueError(f"{name} is not JSON")


def canonical_json(raw: bytes) -> str:
    return parse_canonical(raw)[1]


def chain_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _attribute(doc: dict[str, Any], name: str, before_rename: str) -> Any:
    """A CloudEvents attribute, or its name in events written before the lower-case rename."""
    return doc.get(name, doc.get(before_rename))


class Link(NamedTuple):
    """One row of the audit log, derived from the stream alone (a tuple: made once per event, cheaply)."""

    seq: int
    event_id: str
    subject: str
    type: str
    time: str | None
    correlation_id: str
    causation_id: str | None
    canonical: str
    prev_hash: str
    hash: str

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.canonical)


ID_LIMIT = 200  # the ids and type are indexed columns: a btree entry holds ~2,700 bytes at most


def column(value: object) -> str:
    """An attribute as a stored column: text without NUL (PostgreSQL refuses it), at most ID_LIMIT characters (a
    longer one is cut and marked with a hash of the whole). The canonical text keeps the value exactly."""
    text = str(value).replace("\x00", "\ufffd")
    if len(text) <= ID_LIMIT:
        return text
    return f"{text[:ID_LIMIT - 20]}...{hashlib.sha256(text.encode(errors='replace')).hexdigest()[:16]}"


def link(seq: int, subject: str, raw: bytes, prev_hash: str) -> Link:
    """The chain link for stream message `seq`, following `prev_hash`."""
    doc, canonical = parse_canonical(raw)
    cause = _attribute(doc, "causationid", "causation_id")
    return Link(
        seq=seq,
        event_id=column(doc.get("id") or f"seq:{seq}"),
        subject=subject,
        type=column(doc.get("type") or "invalid"),
        time=doc.get("time") if isinstance(doc.get("time"), str) else None,
        correlation_id=column(_attribute(doc, "correlationid", "correlation_id") or ""),
        causation_id=column(cause) if isinstance(cause, str) else None,
        canonical=canonical,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, canonical),
    )
