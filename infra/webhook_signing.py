"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature): the notifier signs what it
sends, the gateway's Evidently receiver checks what it is sent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

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


def refusal(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance_s: float = 300,
            now: float | None = None) -> str | None:
    """Why a delivery is refused ("unsigned", "stale", "bad signature"), or None when one of its space-separated
    v1 signatures matches and its timestamp is within `tolerance_s`."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp = lower.get("webhook-id", ""), lower.get("webhook-timestamp", "")
    offered = lower.get("webhook-signature", "").split()
    if not msg_id or not stamp.isdigit() or not offered:
        return "unsigned"
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance_s:
        return "stale"
    expected = signature(secret, msg_id, int(stamp), body)
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in offered):
        return "bad signature"
    return None


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance_s: float = 300,
           now: float | None = None) -> bool:
    """True if one of the v1 signatures matches and the timestamp is recent."""
    return refusal(secret, headers, body, tolerance_s=tolerance_s, now=now) is None
