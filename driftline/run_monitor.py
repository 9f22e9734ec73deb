"""Wiring of the drift and quality monitor: predictions + labels -> drift reports and alerts, /metrics on a port."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import start_http_server

from consumers.monitor.service import MonitorService, consumer_spec
from driftline.common import database_dsn
from infra.bus import Bus
from infra.champion import FOLLOWED, ChampionFollower
from infra.consumer import ConsumerSpec
from infra.db import connect_pool
from infra.models import configure_mlflow
from infra.nats_auth import credential_for
from infra.runtime_config import FOLLOWED as CONFIG_FOLLOWED
from infra.runtime_config import ConfigFollower
from infra.settings import Settings
from infra.streams import require_streams

log = logging.getLogger(__name__)
FOLLOWS = FOLLOWED
FOLLOWS_CONFIG = CONFIG_FOLLOWED  # runtime keys it owns (schemas/config.py OWNERS)


def consumer_specs(settings: Settings) -> list[ConsumerSpec]:
    """The monitor's one durable consumer (MonitorService's)."""
    return [consumer_spec(settings)]


async def main(settings: Settings, stop: asyncio.Event) -> None:
    configure_mlflow(settings)
    server, thread = start_http_server(settings.monitor_metrics_port, addr=settings.monitor_metrics_host)
    log.info("monitor: metrics on http://%s:%d/metrics", settings.monitor_metrics_host, settings.monitor_metrics_port)
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-monitor",
                            credential=credential_for(settings, "monitor"))
    pool = await connect_pool(await database_dsn(settings, "monitor"), max_size=3)
    try:
        await require_streams(bus.js)
        service = MonitorService(settings, bus, pool)
        follower = ChampionFollower(bus, settings.model_name, service.champion_changed, settings.model_poll_s)
        await service.run(stop, follower, ConfigFollower(bus, "monitor", service.apply_config))
    finally:
        await pool.close()
        await bus.close()
        server.shutdown()
        thread.join(timeout=5)
