"""Webhooks in: Alertmanager (v4 payload, bearer token) and Evidently (Standard Webhooks HMAC) -> driftline.alert.*.

A forged, stale or replayed call is refused with 401 and counted; a body over `webhook_max_body_bytes` with 413
before more than that is read (the signature is checked on the bytes, so they are read first, but never all). Event ids are derived from what the sender
identifies (Alertmanager's fingerprint and start time, the webhook id), so a retried delivery is the same event
and JetStream drops the copy; a replayed signed id is refused as well.
"""

from __future__ import annotations

import hmac
import json
import time
import uuid
from datetime import datetime
from typing import Any, get_args

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import Counter

from infra.bus import Bus
from infra.http_limits import BodyTooLarge, read_limited, too_large
from infra.settings import Settings
from infra.webhook_signing import refusal
from schemas.envelope import derived_id
from schemas.monitoring import Alert, AlertClear, AlertCleared, AlertKind, AlertRaised

SOURCE = "producers/webhooks"
KINDS = set(get_args(AlertKind))
REFUSED = Counter("driftline_webhook_refused_total", "Webhook calls refused with 401.", ["source", "reason"])
ACCEPTED = Counter("driftline_webhook_alerts_total", "Alerts received through webhooks.", ["source", "status"])


def stable_id(when: datetime | float, key: str) -> str:
    """A UUIDv7 with the given time whose other bits come from `key`: the same delivery gets the same id."""
    ms = int((when.timestamp() if isinstance(when, datetime) else when) * 1000)
    root = uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62))
    return derived_id(str(root), "driftline.webhook", key)


def _refuse(source: str, reason: str) -> HTTPException:
    REFUSED.labels(source, reason).inc()
    return HTTPException(401, detail=f"refused: {reason}", headers={"WWW-Authenticate": "Bearer"})


async def _body(request: Request, source: str, limit: int) -> bytes | Response:
    """The body within `limit` bytes, else the 413 to return, before more than that is read (a signature is checked
    only on the bytes within it)."""
    try:
        return await read_limited(request, limit)
    except BodyTooLarge as exc:
        REFUSED.labels(source, "too large").inc()
        return too_large(request, exc)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def alertmanager_events(payload: dict, default_model: str) -> list[AlertRaised | AlertCleared]:
    """Alertmanager's version-4 webhook body -> one AlertRaised per firing alert, AlertCleared per resolved one."""
    if str(payload.get("version")) != "4":
        raise ValueError("only Alertmanager webhook version 4 is understood")
    out: list[AlertRaised | AlertCleared] = []
    for item in payload.get("alerts", []):
        labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
        notes = item.get("annotations") or {}
        name = labels.get("alertname", "alert")
        kind = labels.get("kind") if labels.get("kind") in KINDS else "external"
        model = labels.get("model", default_model)
        fingerprint = f"alertmanager:{item.get('fingerprint') or name}"
        started = datetime.fromisoformat(str(item.get("startsAt")).replace("Z", "+00:00"))
        if item.get("status") == "resolved":
            event_id = stable_id(started, f"{fingerprint}|resolved")
            out.append(AlertCleared(id=event_id, source=SOURCE, subject=model, data=AlertClear(
                kind=kind, model=model, fingerprint=fingerprint, alert_id=stable_id(started, fingerprint),
                summary=str(notes.get("summary", f"{name} resolved")))))
            continue
        out.append(AlertRaised(id=stable_id(started, fingerprint), source=SOURCE, subject=model, data=Alert(
            kind=kind, model=model, fingerprint=fingerprint, features=[f for f in labels.get("features", "").split(",") if f],
            statistic=name, value=_number(notes.get("value")), threshold=_number(notes.get("threshold")),
            detector=f"alertmanager:{name}", report_url=item.get("generatorURL") or None,
            summary=str(notes.get("summary") or notes.get("description") or name), labels=labels,
            details={"annotations": notes, "startsAt": item.get("startsAt"), "receiver": payload.get("receiver")})))
    return out


def evidently_event(body: dict, webhook_id: str, timestamp: int, default_model: str) -> AlertRaised:
    """An Evidently alert (our documented JSON: kind, model, features, statistic, value, threshold...) as AlertRaised."""
    data = body.get("data", body)
    model = str(data.get("model", default_model))
    kind = data.get("kind") if data.get("kind") in KINDS else "data_drift"
    features = [str(f) for f in data.get("features", [])]
    known = {"kind", "model", "features", "statistic", "value", "threshold", "summary", "report_url", "fingerprint"}
    return AlertRaised(id=stable_id(timestamp, f"evidently|{webhook_id}"), source=SOURCE, subject=model, data=Alert(
        kind=kind, model=model, fingerprint=str(data.get("fingerprint") or f"evidently:{kind}:{model}"),
        features=features, statistic=str(data.get("statistic", "evidently")), value=_number(data.get("value")),
        threshold=_number(data.get("threshold")), detector="evidently", report_url=data.get("report_url"),
        summary=str(data.get("summary", f"Evidently reported {kind.replace('_', ' ')} on {model}")),
        details={k: v for k, v in data.items() if k not in known} | {"webhook_id": webhook_id}))


class ReplayGuard:
    """Webhook ids seen within the tolerance; older ones are refused as stale before they get here."""

    def __init__(self, tolerance_s: float):
        self.tolerance_s = tolerance_s
        self.seen: dict[str, float] = {}

    def first_time(self, webhook_id: str, now: float) -> bool:
        self.seen = {k: t for k, t in self.seen.items() if now - t <= 2 * self.tolerance_s}
        if webhook_id in self.seen:
            return False
        self.seen[webhook_id] = now
        return True


def _documented(what: str, refused: str) -> dict:
    """The OpenAPI description of a webhook route: its body and every status it answers."""
    def answer(description: str, schema: dict) -> dict:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    detail = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
    published = {"type": "object", "required": ["published", "events"], "properties": {
        "published": {"type": "integer", "description": "Events newly stored (a retried delivery stores none)."},
        "events": {"type": "array", "items": {"type": "string"}, "description": "Their ids."}}}
    return dict(response_model=None, responses={
        200: answer("Published as driftline.alert.raised / .cleared.", published),
        401: answer(f"Refused: {refused}.", detail), 422: answer(f"Not {what}.", detail),
        413: answer("The body is over DRIFTLINE_WEBHOOK_MAX_BODY_BYTES (refused before more is read).", detail)},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "description": what}}}}})


def build_router(settings: Settings, bus: Bus) -> APIRouter:
    """POST /webhooks/alertmanager and POST /webhooks/evidently, publishing onto `bus`."""
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])
    guard = ReplayGuard(settings.webhook_tolerance_s)
    limit = settings.webhook_max_body_bytes

    @router.post("/alertmanager", summary="Alertmanager version-4 webhook (bearer token)",
                 **_documented("an Alertmanager version-4 payload", "missing or wrong bearer token"))
    async def alertmanager(request: Request) -> dict | Response:
        token = settings.alertmanager_token.get_secret_value() if settings.alertmanager_token else None
        given = request.headers.get("authorization", "")
        if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise _refuse("alertmanager", "bad token")
        body = await _body(request, "alertmanager", limit)
        if isinstance(body, Response):
            return body
        try:
            events = alertmanager_events(json.loads(body), settings.model_name)
        except (ValueError, TypeError, AttributeError) as exc:
            raise HTTPException(422, detail=f"not an Alertmanager v4 payload: {exc}")
        acks = await bus.publish_many(events)
        for event in events:
            ACCEPTED.labels("alertmanager", "resolved" if isinstance(event, AlertCleared) else "firing").inc()
        return {"published": sum(not a.duplicate for a in acks), "events": [e.id for e in events]}

    @router.post("/evidently", summary="Evidently alert webhook (Standard Webhooks HMAC-SHA256)",
                 **_documented("an alert body", "unsigned, badly signed, stale or replayed"))
    async def evidently(request: Request) -> dict | Response:
        secret = settings.evidently_webhook_secret.get_secret_value() if settings.evidently_webhook_secret else None
        if not secret:
            raise _refuse("evidently", "unsigned")
        body = await _body(request, "evidently", limit)
        if isinstance(body, Response):
            return body
        now = time.time()
        reason = refusal(secret, request.headers, body, tolerance_s=settings.webhook_tolerance_s, now=now)
        if reason:
            raise _refuse("evidently", reason)
        webhook_id, stamp = request.headers["webhook-id"], request.headers["webhook-timestamp"]
        if not guard.first_time(webhook_id, now):
            raise _refuse("evidently", "replayed")
        try:
            event = evidently_event(json.loads(body), webhook_id, int(stamp), settings.model_name)
        except (ValueError, TypeError, AttributeError) as exc:
            raise HTTPException(422, detail=f"not an alert body: {exc}")
        ack = await bus.publish(event)
        if ack.duplicate:  # another gateway replica already took this id
            raise _refuse("evidently", "replayed")
        ACCEPTED.labels("evidently", "firing").inc()
        return {"published": 1, "events": [event.id]}

    return router
