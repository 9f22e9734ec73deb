"""Slack incoming-webhook messages: the summary, key facts and a link to the approval page, signed."""

from __future__ import annotations

import json

import httpx

from consumers.notifier.routing import Notification
from infra.webhook_signing import sign_headers

EMOJI = {"low": ":information_source:", "medium": ":warning:", "high": ":rotating_light:", "critical": ":fire:"}


def payload(note: Notification) -> dict:
    """Block Kit message with a plain `text` fallback for clients that show no blocks."""
    facts = [{"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in note.facts[:10]]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": note.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{EMOJI.get(note.severity, '')} *{note.severity}* "
                                                                 f"- {note.summary}"[:3000]}},
    ]
    if facts:
        blocks.append({"type": "section", "fields": facts})
    buttons = []
    if note.link:
        label = "Review and decide" if note.group == "approval" else "Open in Driftline"
        buttons.append({"type": "button", "text": {"type": "plain_text", "text": label}, "url": note.link})
    if note.report_link:
        buttons.append({"type": "button", "text": {"type": "plain_text", "text": f"{note.report[0].capitalize()} report"},
                        "url": note.report_link})
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"{note.event_type} `{note.event_id}`"}]})
    text = f"[{note.severity}] {note.title}: {note.summary}" + (f" <{note.link}>" if note.link else "") + \
        (f" report: <{note.report_link}>" if note.report_link else "")
    return {"text": text, "blocks": blocks}


async def post(client: httpx.AsyncClient, url: str, note: Notification, secret: str | None) -> None:
    """POST the message; the webhook id is the event id + channel, so a receiver can drop a repeat."""
    body = json.dumps(payload(note), separators=(",", ":")).encode()
    headers = {"content-type": "application/json", **sign_headers(secret, f"{note.event_id}.slack", body)}
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:  # its text names the URL, which is the secret: say what happened without it
        raise SlackError(f"Slack unreachable ({type(exc).__name__})") from None
    if response.is_error:
        raise SlackError(f"Slack answered {response.status_code} {response.reason_phrase}: {response.text[:200]}")


class SlackError(RuntimeError):
    """A failed Slack delivery, described without the webhook URL (a secret)."""
