"""Real receivers for the notifier tests: an SMTP server (aiosmtpd) and an HTTP webhook receiver (aiohttp)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from dataclasses import dataclass, field

from aiohttp import web
from aiosmtpd.controller import Controller

from infra.processes import free_port


class MailBox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def start_smtp() -> tuple[Controller, MailBox, int]:
    box, port = MailBox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, box, port


@dataclass
class WebhookReceiver:
    port: int
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/hook"

    def payloads(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]

    async def observe(self, request: web.Request) -> None:
        """Called on every delivery before it is kept; a test looks at the world from here."""

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            await self.observe(request)
            self.received.append((dict(request.headers), await request.read()))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/slack/hook", hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


async def wait_for(condition, timeout: float = 90.0, what: str = "condition", task=None) -> None:
    """Poll until `condition()` is true; fail with `what` after `timeout` seconds, or at once if `task` died."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                if task is not None and task.done():
                    task.result()  # re-raises the service's error
                    raise AssertionError(f"the service stopped before {what}")
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None
