"""Reading a stream from the start (or a sequence, or a time) in order, without disturbing any consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]
    time: datetime


async def read_stream(
    js: JetStreamContext,
    stream: str,
    *,
    subjects: tuple[str, ...] = (),
    start_seq: int | None = None,
    start_time: datetime | None = None,
    batch: int = 1000,
    timeout: float = 5.0,
) -> AsyncIterator[StoredMessage]:
    """Every message stored now (up to the stream's last sequence at the start), in sequence order."""
    info = await js.stream_info(stream)
    last = info.state.last_seq
    if info.state.messages == 0:
        return
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, inactive_threshold=30.0, max_ack_pending=-1)
    if start_seq:
        config.deliver_policy, config.opt_start_seq = DeliverPolicy.BY_START_SEQUENCE, start_seq
    elif start_time:
        config.deliver_policy, config.opt_start_time = DeliverPolicy.BY_START_TIME, start_time
    else:
        config.deliver_policy = DeliverPolicy.ALL
    if len(subjects) > 1:
        config.filter_subjects = list(subjects)
    # nats-py uses the subject argument as the filter unless filter_subjects is set.
    sub = await js.pull_subscribe(subjects[0] if len(subjects) == 1 else "", stream=stream, config=config)
    try:
        if (await sub.consumer_info()).num_pending == 0:
            return
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=timeout)
            except (TimeoutError, nats.errors.TimeoutError):
                return  # nothing more arrived: the rest is past the filter
            for msg in msgs:
                meta = msg.metadata
                if meta.sequence.stream > last:
                    return
                yield StoredMessage(meta.sequence.stream, msg.subject, msg.data, dict(msg.headers or {}),
                                    meta.timestamp)
                if meta.sequence.stream == last or meta.num_pending == 0:
                    return
    finally:
        await sub.unsubscribe()
