"""Standard Webhooks signatures for our outgoing webhooks: webhook-id, webhook-timestamp, webhook-signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64 part of a `whsec_` secret, else the secret's own bytes."""
    if secret.startswith(PREFIX):
        return base64.b64decode(secret[len(PREFIX):])
    return secret.encode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of id.timestamp.body>`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(secret: str | None, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Headers of a webhook delivery; unsigned (id and timestamp only) when no secret is configured."""
    timestamp = int(time.time() if now is None else now)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret:
        headers["webhook-signature"] = signature(secret, msg_id, timestamp, body)
    return headers


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance_s: float = 300,
           now: float | None = None) -> bool:
    """True if one of the space-separated v1 signatures matches and the timestamp is recent."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
        offered = lower["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = signature(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)
