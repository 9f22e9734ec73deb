"""Wiring of the HTTP gateway: bus, champion from the registry, following promotions, webhooks, uvicorn."""

from __future__ import annotations

import asyncio
import logging

from inference.gateway import SOURCE, create_app
from inference.model_holder import ModelHolder
from inference.shadow import ShadowScorer
from inference.startup import load_first_model
from infra.bus import Bus
from infra.champion import FOLLOWED, ChampionFollower
from infra.consumer import ConsumerSpec
from infra.models import configure_mlflow
from infra.nats_auth import credential_for
from infra.runtime_config import FOLLOWED as CONFIG_FOLLOWED
from infra.runtime_config import ConfigFollower
from infra.settings import Settings
from infra.streams import require_streams
from infra.web_server import serve_app
from producers.webhooks import build_router

log = logging.getLogger(__name__)
FOLLOWS = FOLLOWED
FOLLOWS_CONFIG = CONFIG_FOLLOWED  # runtime keys it owns (schemas/config.py OWNERS)


def consumer_specs(settings: Settings) -> list[ConsumerSpec]:
    """None: the gateway answers HTTP and follows the champion; it has no durable consumer."""
    return []


def extra_routers(settings: Settings, bus: Bus) -> list:
    """The webhook receivers (producers/webhooks.py) the gateway serves beside /predict."""
    return [build_router(settings, bus)]


async def main(settings: Settings, stop: asyncio.Event) -> None:
    configure_mlflow(settings)
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-gateway",
                            credential=credential_for(settings, "gateway"))
    try:
        await require_streams(bus.js)
        holder = ModelHolder(settings)
        shadow = ShadowScorer(settings, bus, SOURCE)
        follower = ChampionFollower(bus, settings.model_name, shadow.following(holder.follow), settings.model_poll_s)
        await follower.subscribe()
        app = create_app(settings, bus, holder, extra_routers(settings, bus), shadow)
        config = ConfigFollower(bus, "gateway", app.state.batcher.apply_config)
        await config.start()
        helpers = [asyncio.create_task(follower.run(stop)), asyncio.create_task(load_first_model(holder, stop)),
                   asyncio.create_task(config.run(stop)), asyncio.create_task(shadow.run(stop))]
        log.info("gateway on http://%s:%d", settings.gateway_host, settings.gateway_port)
        try:
            await serve_app(app, settings.gateway_host, settings.gateway_port, stop, access_log=False)
        finally:
            stop.set()  # the server is gone (or was asked to go): the helpers go with it
            await asyncio.gather(*helpers, return_exceptions=True)
    finally:
        await bus.close()
