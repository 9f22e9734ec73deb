"""Wiring of the inference worker: prediction.requested -> prediction.made, several pull loops, following the
champion."""

from __future__ import annotations

import asyncio
import logging

from inference.model_holder import ModelHolder
from inference.shadow import ShadowScorer
from inference.startup import load_first_model
from inference.worker import SOURCE, InferenceWorker, consumer_spec
from infra.bus import Bus
from infra.champion import FOLLOWED, ChampionFollower
from infra.consumer import ConsumerSpec
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
    """The worker's one durable consumer (InferenceWorker's), shared by its pull loops and every replica."""
    return [consumer_spec(settings)]


async def main(settings: Settings, stop: asyncio.Event) -> None:
    configure_mlflow(settings)
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-worker",
                            credential=credential_for(settings, "worker"))
    try:
        await require_streams(bus.js)
        holder = ModelHolder(settings)
        shadow = ShadowScorer(settings, bus, SOURCE)
        follower = ChampionFollower(bus, settings.model_name, shadow.following(holder.follow), settings.model_poll_s)
        await follower.subscribe()
        worker = InferenceWorker(settings, bus, holder, shadow)
        config = ConfigFollower(bus, "worker", worker.apply_config)
        await config.start()
        following = [asyncio.create_task(follower.run(stop)), asyncio.create_task(config.run(stop)),
                     asyncio.create_task(shadow.run(stop))]
        # Pull nothing before a model is loaded: requests would only be retried towards the dead-letter queue.
        await load_first_model(holder, stop)
        if not stop.is_set():
            runners = [worker.runner() for _ in range(max(1, settings.worker_concurrency))]
            for runner in runners:
                await runner.setup()
            log.info("worker: %d pull loops on %s, model version %s", len(runners), worker.spec.durable,
                     holder.version)
            await asyncio.gather(*(runner.run(stop) for runner in runners))
        await asyncio.gather(*following)
    finally:
        await bus.close()
