"""What each way of using JetStream needs of the server, as NATS subjects (the permissions' vocabulary).

JetStream is driven by requests to `$JS.API.<verb>...`; a permission on those subjects is a permission on the verb
for that stream or consumer. These are the subjects nats-py 2.16 uses against nats-server 2.11+ (tests/security runs
every service with exactly these grants). Nobody but the operator gets CONSUMER.CREATE.<stream> without a consumer
name: a create request on that subject that names an existing durable in its body re-configures that durable
(nats-server 2.15 does so), so a right to make ephemeral consumers would be a right to blind the executor.
"""

from __future__ import annotations

from collections.abc import Iterable

from infra.nats_auth import ANSWERS, INBOX, Grants
from schemas.streams import dlq_subject

API = "$JS.API"


def publish(subjects: Iterable[str]) -> Grants:
    return Grants.of(publish=subjects)


def listen(subjects: Iterable[str]) -> Grants:
    """A core subscription (no JetStream): the live messages on these subjects as they are published."""
    return Grants.of(subscribe=subjects)


def account_info() -> Grants:
    """`$JS.API.INFO`: is JetStream there (the containers' health check)."""
    return publish([f"{API}.INFO"])


def stream_check(streams: Iterable[str]) -> Grants:
    """STREAM.INFO: that a stream exists and how far it goes (services check theirs at start)."""
    return publish(f"{API}.STREAM.INFO.{s}" for s in streams)


def durable(stream: str, name: str) -> Grants:
    """Run one durable pull consumer: create or update it, read its state, pull, acknowledge, dead-letter."""
    return publish([
        f"{API}.CONSUMER.DURABLE.CREATE.{stream}.{name}",
        f"{API}.CONSUMER.CREATE.{stream}.{name}",  # the named form newer clients use; same consumer, same right
        f"{API}.CONSUMER.CREATE.{stream}.{name}.>",
        f"{API}.CONSUMER.INFO.{stream}.{name}",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.{name}",
        f"$JS.ACK.{stream}.{name}.>",
        dlq_subject(name),
    ])


def reader(stream: str) -> Grants:
    """Ordered reads of a whole stream (infra.stream_reader): batched direct gets, and the leader's next message.
    No consumer: whoever may create one on a stream may also re-configure every other consumer of it."""
    return publish([f"{API}.DIRECT.GET.{stream}", f"{API}.STREAM.MSG.GET.{stream}", f"{API}.STREAM.INFO.{stream}"])


def last_message(stream: str, subjects: Iterable[str]) -> Grants:
    """The last message of each subject by direct get (a follower's state at start), nothing else of the stream."""
    return publish(f"{API}.DIRECT.GET.{stream}.{s}" for s in subjects)


def consumer_state(stream: str) -> Grants:
    """CONSUMER.INFO on every consumer of a stream: how far each has acknowledged (audit verify), nothing more."""
    return publish([f"{API}.CONSUMER.INFO.{stream}.*"])


def purge(stream: str) -> Grants:
    return publish([f"{API}.STREAM.PURGE.{stream}"])


def answer_requests() -> Grants:
    """Answer a Driftline-Reply-To request: the answers subtree of any identity's inbox, not its API replies."""
    return publish([f"{INBOX}.*.{ANSWERS}.>"])
