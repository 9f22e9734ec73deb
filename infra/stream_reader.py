"""Reading a stream from the start (or a sequence, or a time) in order, without disturbing any consumer.

Reads use JetStream's batched direct get (`$JS.API.DIRECT.GET.<stream>`, nats-server 2.11+; the streams allow it),
not an ephemeral consumer: a right to create consumers on a stream is also a right to re-configure any consumer of
it (a create request naming the executor's durable in its body updates that durable's filter; tested in
tests/security), so a reader holds none. A direct get may be answered by a replica that lags the leader: when a batch
says nothing is left before the last sequence the leader reported, the leader is asked (STREAM.MSG.GET) for the next
matching message, and reading goes on from it if there is one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import APIError

from schemas.streams import subjects_overlap

# Headers a direct get adds to each message; the stored message's own headers are the rest.
DIRECT_HEADERS = frozenset({"Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp", "Nats-Num-Pending",
                            "Nats-Last-Sequence"})
STALLS = 20  # tries (0.05 s, 0.1 s, ... apart: ~10 s in all) for a lagging replica to catch up
ASK_AGAIN = 2  # a batch nobody answered within the timeout is asked for again this many times


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]
    time: datetime


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    """nats-server's RFC 3339 time with nanoseconds (Python takes microseconds)."""
    stamp, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{stamp}.{(fraction + '000000')[:6]}+00:00")


async def _leader_next(js: JetStreamContext, stream: str, seq: int, subject: str | None) -> int | None:
    """The sequence of the next message at or after `seq` (on `subject`), as the stream's leader has it."""
    request = {"seq": seq, **({"next_by_subj": subject} if subject else {})}
    reply = await js._nc.request(f"{js._prefix}.STREAM.MSG.GET.{stream}", json.dumps(request).encode(),
                                 timeout=js._timeout)
    found = json.loads(reply.data)
    if "error" in found:
        if found["error"].get("code") == 404:
            return None
        raise APIError.from_error(found["error"])
    return found["message"]["seq"]


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
    # One filter goes to the server; several are applied here (a direct get takes one subject).
    server_filter = subjects[0] if len(subjects) == 1 else None
    nc = js._nc  # nats-py has no public batched direct get; the request is two lines of its protocol
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    next_seq = start_seq or (None if start_time else 1)
    stalls = silent = 0
    try:
        while True:
            request: dict = {"batch": batch}
            request.update({"seq": next_seq} if next_seq else {"start_time": _rfc3339(start_time)})
            if server_filter:
                request["next_by_subj"] = server_filter
            await nc.publish(f"{js._prefix}.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox)
            while True:
                try:
                    msg = await sub.next_msg(timeout=timeout)
                    silent = 0
                except (TimeoutError, nats.errors.TimeoutError):
                    # A busy server answers late, not never: ask again from where the answers stopped (a late
                    # answer to the first request is then skipped by its sequence) before giving up.
                    silent += 1
                    if silent > ASK_AGAIN:
                        raise TimeoutError(f"no answer from stream {stream} within {timeout} s, asked "
                                           f"{ASK_AGAIN + 1} times (the server is overloaded, or direct get is off: "
                                           "`driftline streams ensure` turns it on)") from None
                    status = "retry"
                    break
                headers = dict(msg.headers or {})
                status = headers.get("Status")
                if status == "204" or status == "404":  # end of this batch; or nothing at or after the position
                    break
                if status:
                    raise RuntimeError(f"reading stream {stream}: {status} {headers.get('Description', '')}")
                seq = int(headers["Nats-Sequence"])
                if next_seq is not None and seq < next_seq:
                    continue  # a late answer to a request asked again
                if seq > last:
                    return
                next_seq = seq + 1
                subject = headers["Nats-Subject"]
                if not subjects or server_filter or any(subjects_overlap(subject, s) for s in subjects):
                    yield StoredMessage(seq, subject, msg.data,
                                        {k: v for k, v in headers.items() if k not in DIRECT_HEADERS},
                                        _parse_time(headers["Nats-Time-Stamp"]))
                    stalls = 0
                if seq == last:
                    return
            if status == "retry":
                continue
            if status == "204" and int(headers.get("Nats-Num-Pending", "0")) > 0:
                stalls = 0
                continue  # more in the next batch
            if next_seq is None:
                return  # read from a time on, and nothing is stored from then
            ahead = await _leader_next(js, stream, next_seq, server_filter)
            if ahead is None or ahead > last:
                return
            # The replica that answered is behind the leader: wait for it a little, then go on from there.
            stalls += 1
            if stalls > STALLS:
                raise RuntimeError(f"reading stream {stream}: the replicas keep answering without sequence {ahead}, "
                                   "which the leader has")
            await asyncio.sleep(0.05 * stalls)
            next_seq = ahead
    finally:
        await sub.unsubscribe()
