"""Wiring of the audit projector service: AUDIT stream -> hash-chained audit log in PostgreSQL."""

from __future__ import annotations

import asyncio

from consumers.audit.anchor import Anchor
from consumers.audit.projector import Projector, consumer_spec
from consumers.audit.signing import checkpoint_signer
from driftline.common import database_dsn
from infra.bus import Bus
from infra.consumer import ConsumerSpec
from infra.db import connect_pool
from infra.nats_auth import credential_for
from infra.settings import Settings
from infra.streams import require_streams


def consumer_specs(settings: Settings) -> list[ConsumerSpec]:
    """The projector's one durable consumer: every AUDIT subject, in stream order."""
    return [consumer_spec(settings.audit_durable, ack_wait=settings.ack_wait_s)]


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-projector",
                            credential=credential_for(settings, "projector"))
    pool = await connect_pool(await database_dsn(settings, "projector"), max_size=2)
    try:
        await require_streams(bus.js)
        (spec,) = consumer_specs(settings)
        projector = Projector(bus, pool, checkpoint_signer(settings), anchor=Anchor(settings.anchor_dir), spec=spec,
                              checkpoint_every=settings.audit_checkpoint_every)
        await projector.run(stop)
    finally:
        await pool.close()
        await bus.close()
