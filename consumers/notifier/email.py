"""Notification mails: a plain-text and HTML body with the PDF report attached, sent over SMTP."""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from consumers.notifier.routing import Notification


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    security: str = "starttls"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0
    ca_file: str | None = None  # a private CA; None trusts the system's CAs


def build_message(note: Notification, config: SmtpConfig, attachment: Path | None) -> EmailMessage:
    """The mail for one notification; the Message-ID derives from the event so a reader can dedupe too."""
    msg = EmailMessage()
    msg["Subject"] = f"[driftline {note.severity}] {note.title}"
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.recipients)
    msg["Message-ID"] = make_msgid(idstring=f"{note.event_id}.email", domain="driftline")
    msg["X-Driftline-Event-Id"] = note.event_id
    lines = [note.title, "", note.summary, ""]
    lines += [f"{label}: {value}" for label, value in note.facts]
    if note.link:
        lines += ["", f"Open: {note.link}"]
    if note.report_link and attachment is not None:
        lines += [f"Report: {note.report_link} (attached)"]
    lines += ["", f"Event {note.event_type} {note.event_id}", f"Correlation {note.correlation_id}"]
    if attachment is None and note.report:
        lines += ["", "The report could not be built; see the notifier's log."]
    msg.set_content("\n".join(lines))
    rows = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in note.facts)
    link = f"<p><a href='{html.escape(note.link)}'>Open in Driftline</a></p>" if note.link else ""
    if note.report_link and attachment is not None:
        link += f"<p><a href='{html.escape(note.report_link)}'>The report on the page</a> (attached as PDF)</p>"
    msg.add_alternative(
        f"<h2>{html.escape(note.title)}</h2><p>{html.escape(note.summary)}</p><table>{rows}</table>{link}"
        f"<p style='color:#666'>Event {html.escape(note.event_type)} {note.event_id}</p>",
        subtype="html",
    )
    if attachment is not None:
        msg.add_attachment(attachment.read_bytes(), maintype="application", subtype="pdf", filename=attachment.name)
    return msg


def send_sync(msg: EmailMessage, config: SmtpConfig) -> None:
    """One SMTP conversation: implicit TLS or STARTTLS and login when configured."""
    context = ssl.create_default_context(cafile=config.ca_file)
    if config.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    with client:
        client.ehlo()
        if config.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if config.username:
            client.login(config.username, config.password or "")
        client.send_message(msg)


async def send(msg: EmailMessage, config: SmtpConfig) -> None:
    """Send in a worker thread so a slow server does not stall the event loop."""
    await asyncio.to_thread(send_sync, msg, config)
