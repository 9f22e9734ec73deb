"""Wiring of the HTTP gateway: bus, champion from the registry, hot reload, webhooks, uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging

import uvicorn

from inference.gateway import create_app
from inference.model_holder import ModelHolder
from inference.reload import ModelReloader
from inference.startup import install_uvloop, load_first_model
from infra.bus import Bus
from infra.models import configure_mlflow
from infra.settings import Settings
from infra.streams import ensure_streams

log = logging.getLogger(__name__)
install_uvloop()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):
        yield  # the service runner owns SIGINT/SIGTERM and sets `stop`


def extra_routers(settings: Settings, bus: Bus) -> list:
    """The webhook receivers (producers/webhooks.py), when that part is built."""
    if importlib.util.find_spec("producers.webhooks") is None:
        return []
    return [importlib.import_module("producers.webhooks").build_router(settings, bus)]


async def main(settings: Settings, stop: asyncio.Event) -> None:
    configure_mlflow(settings)
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-gateway")
    try:
        await ensure_streams(bus.js, settings)
        holder = ModelHolder(settings)
        reloader = ModelReloader(bus, holder, settings.model_poll_s)
        await reloader.subscribe()
        app = create_app(settings, bus, holder, extra_routers(settings, bus))
        server = _Server(uvicorn.Config(app, host=settings.gateway_host, port=settings.gateway_port,
                                        log_level="warning", access_log=False, lifespan="on"))
        tasks = [asyncio.create_task(server.serve()), asyncio.create_task(reloader.run(stop)),
                 asyncio.create_task(load_first_model(holder, stop))]
        log.info("gateway on http://%s:%d", settings.gateway_host, settings.gateway_port)
        await asyncio.wait([tasks[0], asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await bus.close()
