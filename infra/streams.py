"""Idempotent provisioning of the streams and durable consumers the design names."""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from infra.settings import Settings
from schemas.streams import ALL_STREAMS, PREDICTIONS, StreamSpec

log = logging.getLogger(__name__)


def stream_config(spec: StreamSpec, settings: Settings) -> StreamConfig:
    """The server-side configuration of one stream."""
    config = StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.duplicate_window_s,
        discard=DiscardPolicy.OLD,
    )
    if spec.immutable:
        config.deny_delete = True
        config.deny_purge = True
        config.max_age = 0
        config.max_bytes = -1
        config.max_msgs = -1
    elif spec is PREDICTIONS:
        config.max_age = settings.predictions_max_age_s
        config.max_bytes = settings.predictions_max_bytes
    else:
        config.max_age = settings.dlq_max_age_s
    return config


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Create each stream, or bring an existing one to the wanted configuration."""
    for spec in ALL_STREAMS:
        wanted = stream_config(spec, settings)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(wanted)
            log.info("created stream %s", spec.name)
            continue
        await js.update_stream(wanted)


async def ensure_consumer(
    js: JetStreamContext,
    *,
    stream: str,
    durable: str,
    subjects: tuple[str, ...],
    max_deliver: int,
    ack_wait: float,
    max_ack_pending: int = 10_000,
    deliver_new: bool = False,
) -> None:
    """Create or update a durable pull consumer with explicit acks and bounded redelivery."""
    config = ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.NEW if deliver_new else DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_deliver=max_deliver,
        max_ack_pending=max_ack_pending,
        max_waiting=512,
    )
    if len(subjects) == 1:
        config.filter_subject = subjects[0]
    else:
        config.filter_subjects = list(subjects)
    try:
        await js.consumer_info(stream, durable)
    except NotFoundError:
        await js.add_consumer(stream, config)
        return
    # Deliver policy cannot change on an existing consumer; the rest can.
    info = await js.consumer_info(stream, durable)
    config.deliver_policy = info.config.deliver_policy
    await js.add_consumer(stream, config)
