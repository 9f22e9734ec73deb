"""Wiring of the approval web page: a bus, a pool, the app, and uvicorn on ui_host:ui_port."""

from __future__ import annotations

import asyncio

from agent.approvals.desk import ApprovalDesk
from agent.approvals.keys import decision_signer
from driftline.common import database_dsn
from infra.bus import Bus
from infra.consumer import ConsumerSpec
from infra.db import connect_pool
from infra.nats_auth import credential_for
from infra.settings import Settings
from infra.tracing_http import TracingMiddleware
from infra.web_server import serve_app
from ui.app import create_app


def consumer_specs(settings: Settings) -> list[ConsumerSpec]:
    """None: the page reads the read models and answers people."""
    return []


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-ui",
                            credential=credential_for(settings, "ui"))
    pool = await connect_pool(await database_dsn(settings, "ui"), max_size=5)
    try:
        app = create_app(settings, bus, pool, ApprovalDesk(pool, decision_signer(settings)), stopping=stop)
        # A decision made on the page starts a trace that its outbox row carries to the gate and the executor.
        await serve_app(TracingMiddleware(app), settings.ui_host, settings.ui_port, stop, timeout_graceful_shutdown=3)
    finally:
        await pool.close()
        await bus.close()
