"""The notifier consumer: AUDIT events -> email and Slack, once per (event, channel), outcome on the audit trail."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx

from consumers.notifier import email, metrics, slack
from consumers.notifier.delivery import Attempted, with_retries
from consumers.notifier.routing import SUBJECTS, Notification, route
from infra.bus import Bus
from infra.consumer import ConsumerSpec, Received
from infra.settings import Settings
from schemas import Event
from schemas.action import ActionCompleted, ActionFailed

log = logging.getLogger(__name__)

SOURCE = "consumers/notifier"
Attachments = Callable[[tuple[str, str], Event], Awaitable[Path | None]]


def action_id(event_id: str, channel: str) -> str:
    """The send_alert action's id: one per source event and channel."""
    return f"send_alert:{channel}:{event_id}"


def outcome(event: Event, note: Notification, channel: str, result: Attempted) -> ActionCompleted | ActionFailed:
    """ActionCompleted or ActionFailed(kind=send_alert) for one delivery; deterministic id, same correlation."""
    model = getattr(event.data, "model", None) or getattr(getattr(event.data, "action", None), "model", None) \
        or event.subject
    common = {"action_id": action_id(event.id, channel), "kind": "send_alert", "model": model}
    if result.ok:
        data = {**common, "result": {"channel": channel, "attempts": result.attempts, "event_id": event.id,
                                     "severity": note.severity},
                "summary": f"{channel} notification sent: {note.title}"}
        return event.caused(ActionCompleted, source=SOURCE, data=data, key=channel)
    data = {**common, "error": f"{channel} notification failed after {result.attempts} attempts: {result.error}"}
    return event.caused(ActionFailed, source=SOURCE, data=data, key=channel)


def smtp_config(settings: Settings) -> email.SmtpConfig | None:
    if not settings.smtp_host or not settings.email_to:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return email.SmtpConfig(settings.smtp_host, settings.smtp_port, settings.email_from, tuple(settings.email_to),
                            settings.smtp_security, settings.smtp_username, password, settings.smtp_timeout_s,
                            str(settings.smtp_ca_file) if settings.smtp_ca_file else None)


def delivery_budget_s(settings: Settings) -> float:
    """The longest one delivery may take: every attempt timing out, the backoff between them, a report build (in a
    process of its own: ~10 s on a quiet machine, a minute and more on a loaded one)."""
    return settings.notify_retries * (settings.smtp_timeout_s + 5) + sum(settings.notify_backoff_s) + 120


def consumer_spec(settings: Settings, durable: str = "notifier") -> ConsumerSpec:
    # Two channels per event, a batch handled in turn: JetStream must not redeliver meanwhile (a redelivery would
    # find the claim still live and wait for it).
    batch = 5
    per_event = 2 * delivery_budget_s(settings)
    return ConsumerSpec(durable, "AUDIT", SUBJECTS, batch=batch, max_wait=0.5, max_deliver=settings.max_deliver,
                        ack_wait=max(settings.ack_wait_s, batch * per_event), backoff=tuple(settings.backoff_s))


class DeliveryInProgress(Exception):
    """Another notifier holds a live claim on this delivery: try again later (nak with backoff)."""


class Notifier:
    """Routes each event, delivers it on every configured channel, records and publishes the outcome."""

    def __init__(self, settings: Settings, bus: Bus, pool: asyncpg.Pool, http: httpx.AsyncClient,
                 attachments: Attachments | None = None, sleep=asyncio.sleep):
        self.settings, self.bus, self.pool, self.http = settings, bus, pool, http
        self.attachments, self.sleep = attachments, sleep
        self.smtp = smtp_config(settings)
        self.ui_url = settings.public_ui_url or f"http://{settings.ui_host}:{settings.ui_port}"
        secret = settings.webhook_secret
        self.secret = secret.get_secret_value() if secret else None
        # (event id, channel) -> outcome sent by this process whose record in PostgreSQL failed: never sent twice
        self._unrecorded: dict[tuple[str, str], tuple[Attempted, str | None]] = {}

    async def handle(self, batch: list[Received]) -> None:
        """AUDIT events (alerts, escalations, approvals, promotions, outcomes) -> notifications."""
        for item in batch:
            with item.span():
                await self.notify(item.event)

    async def notify(self, event: Event) -> None:
        note = route(event, self.settings.notify_routes, self.settings.notify_events, self.ui_url,
                     self.settings.notify_group_routes)
        if note is None:
            return
        for channel in note.channels:
            if channel == "email" and self.smtp is None or channel == "slack" and not self.settings.slack_webhook_url:
                continue  # channel not configured here
            await self.deliver(event, note, channel)

    async def deliver(self, event: Event, note: Notification, channel: str) -> None:
        """At most one delivery per (event, channel): claim the row (committed), send outside any transaction,
        record the outcome, publish it. A redelivery finds the row finished and only publishes what is not out."""
        key = (event.id, channel)
        if not await self._claim(event, note, channel):  # finished before: a redelivery
            metrics.NOTIFICATIONS.labels(channel, "duplicate").inc()
            row = await self.pool.fetchrow(
                "SELECT status, attempts, error, published FROM notifier_deliveries WHERE event_id = $1"
                " AND channel = $2", event.id, channel)
            if not row["published"]:
                await self._announce(event, note, channel, Attempted(row["status"] == "sent", row["attempts"],
                                                                     row["error"]))
            return
        if key not in self._unrecorded:  # else: sent by this process, only its record failed; do not send again
            send, report = await self._sender(event, note, channel)
            result = await with_retries(channel, send, self.settings.notify_retries, self.settings.notify_backoff_s,
                                        self.sleep)
            self._unrecorded[key] = (result, report)
        result, report = self._unrecorded[key]
        await self.pool.execute(
            "UPDATE notifier_deliveries SET status = $3, attempts = $4, error = $5, report = $6,"
            " finished_at = now() WHERE event_id = $1 AND channel = $2",
            event.id, channel, "sent" if result.ok else "failed", result.attempts, result.error, report)
        del self._unrecorded[key]
        metrics.NOTIFICATIONS.labels(channel, "sent" if result.ok else "failed").inc()
        if not result.ok:
            metrics.NOTIFY_FAILURES.labels(channel).inc()
            log.error("%s notification for %s failed: %s", channel, event.id, result.error)
        await self._announce(event, note, channel, result)

    async def _claim(self, event: Event, note: Notification, channel: str) -> bool:
        """True: ours to send (new, or a crashed notifier's claim past its lease, or ours with the record
        pending). False: finished before. Raises DeliveryInProgress while another notifier holds a live claim."""
        claimed = await self.pool.fetchval(
            "INSERT INTO notifier_deliveries AS d (event_id, channel, event_type, severity, status, claimed_at)"
            " VALUES ($1, $2, $3, $4, 'pending', now())"
            " ON CONFLICT (event_id, channel) DO UPDATE SET claimed_at = now()"
            " WHERE d.status = 'pending' AND d.claimed_at < now() - make_interval(secs => $5)"
            " RETURNING true",
            event.id, channel, event.type, note.severity, delivery_budget_s(self.settings))
        if claimed or (event.id, channel) in self._unrecorded:
            return True
        status = await self.pool.fetchval("SELECT status FROM notifier_deliveries WHERE event_id = $1 AND"
                                          " channel = $2", event.id, channel)
        if status == "pending":
            raise DeliveryInProgress(f"{channel} delivery of {event.id} is claimed by another notifier")
        return False

    async def _announce(self, event: Event, note: Notification, channel: str, result: Attempted) -> None:
        await self.bus.publish(outcome(event, note, channel, result))
        await self.pool.execute("UPDATE notifier_deliveries SET published = true WHERE event_id = $1 AND channel = $2",
                                event.id, channel)

    async def _sender(self, event: Event, note: Notification, channel: str) -> tuple[Callable[[], Awaitable[None]], str | None]:
        attachment = await self._attachment(event, note)
        if attachment is None:  # a report that is not there is not linked either
            note = replace(note, report_link=None)
        if channel == "slack":  # the message links to the report on the page; the mail carries the PDF
            url = self.settings.slack_webhook_url
            return (lambda: slack.post(self.http, url, note, self.secret)), str(attachment) if attachment else None
        msg = email.build_message(note, self.smtp, attachment)
        return (lambda: email.send(msg, self.smtp)), str(attachment) if attachment else None

    async def _attachment(self, event: Event, note: Notification) -> Path | None:
        if note.report is None or self.attachments is None:
            return None
        try:
            return await self.attachments(note.report, event)
        except Exception:  # a report that cannot be built must not stop the mail
            log.exception("report %s for %s could not be built; mailing without it", note.report, note.event_id)
            return None
