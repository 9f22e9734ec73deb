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
from schemas.streams import ALL_STREAMS, DATA_PLANE, StreamSpec, subjects_overlap

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
        allow_direct=True,  # infra.stream_reader reads by direct get: readers need no right to make consumers
    )
    if spec.immutable:
        config.deny_delete = True
        config.deny_purge = True
        config.max_age = 0
        config.max_bytes = -1
        config.max_msgs = -1
    elif spec in DATA_PLANE:
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
            info = await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(wanted)
            log.info("created stream %s", spec.name)
            continue
        await js.update_stream(wanted)
        if set(info.config.subjects or ()) != set(spec.subjects):
            await _drop_orphaned_consumers(js, spec)


class StreamsMissing(RuntimeError):
    """A service started before anyone provisioned the streams (services may not create them)."""


async def require_streams(js: JetStreamContext, names: tuple[str, ...] | None = None) -> None:
    """Check that the streams exist, or raise StreamsMissing saying who provisions them. Services call this instead
    of creating streams: only the operator credential may create, change, purge or delete one."""
    missing = []
    for name in names or tuple(spec.name for spec in ALL_STREAMS):
        try:
            await js.stream_info(name)
        except NotFoundError:
            missing.append(name)
    if missing:
        raise StreamsMissing(f"stream(s) {', '.join(missing)} do not exist: provision them with the operator "
                             "credential (`driftline streams ensure`, which `driftline up` runs) and start again")


async def _drop_orphaned_consumers(js: JetStreamContext, spec: StreamSpec) -> None:
    """After a stream gave up subjects (PREDICTIONS handed driftline.prediction.requested to REQUESTS), a consumer
    filtering only on those could never receive anything again: delete it, saying what it leaves behind."""
    for consumer in await js.consumers_info(spec.name):
        filters = consumer.config.filter_subjects or [consumer.config.filter_subject or ">"]
        if not any(subjects_overlap(f, p) for f in filters for p in spec.subjects):
            await js.delete_consumer(spec.name, consumer.name)
            log.warning("stream %s no longer stores %s: deleted its consumer %s (%d message(s) it had not yet "
                        "delivered stay until they age out)", spec.name, ", ".join(filters), consumer.name,
                        consumer.num_pending)


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
