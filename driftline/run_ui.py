"""Wiring of the approval web page: a bus, a pool, the app, and uvicorn on ui_host:ui_port."""

from __future__ import annotations

import asyncio

import uvicorn

from agent.approvals.desk import ApprovalDesk
from agent.approvals.keys import decision_signer
from driftline.common import database_dsn
from infra.bus import Bus
from infra.db import connect_pool
from infra.settings import Settings
from ui.app import create_app


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-ui")
    pool = await connect_pool(await database_dsn(settings), max_size=5)
    try:
        app = create_app(settings, bus, pool, ApprovalDesk(pool, decision_signer(settings)), stopping=stop)
        config = uvicorn.Config(app, host=settings.ui_host, port=settings.ui_port, log_level="warning",
                                timeout_graceful_shutdown=3, lifespan="on")
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # the service runner owns the signals
        serving = asyncio.create_task(server.serve())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        stopping.cancel()
        await serving  # re-raises if the server failed to start (e.g. the port is taken)
    finally:
        await pool.close()
        await bus.close()
