"""The bus under attack: a real nats-server with the permissions `driftline up` generates from the bus map, every
identity's real credential, and each attempt refused by the server (or, where NATS lets a message through, by
JetStream's own rules)."""

from __future__ import annotations

import json

import nats
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.audit.signing import sign
from driftline.bus_map import subscriptions
from driftline.bus_permissions import identities
from infra.keys import Signer
from infra.nats_auth import AUDITOR, OPERATOR, connect_options, inbox_prefix, new_seed
from infra.settings import Settings
from infra.stream_reader import read_stream
from infra.streams import ensure_consumer
from schemas import EVENT_TYPES, ActionScheduled, AuditCheckpoint, PredictionMade
from schemas.streams import ALL_STREAMS, dlq_subject, subjects_overlap
from tests.security.bus_probe import Probe

pytestmark = pytest.mark.integration
API = "$JS.API"
NOT_OPERATOR = [i for i in identities() if i != OPERATOR]


def owns(grants, subject: str) -> bool:
    return any(subjects_overlap(pattern, subject) for pattern in grants.publish)


async def stored_counts(bus) -> dict[str, int]:
    return {spec.name: (await bus.js.stream_info(spec.name)).state.messages for spec in ALL_STREAMS}


async def probe(nats_server, identity: str) -> Probe:
    return await Probe.open(nats_server.url, nats_server.auth.seed_file(identity))


def summary(results: dict[str, str | None]) -> tuple[int, str]:
    refused = [s for s, r in results.items() if r]
    taken = [s for s, r in results.items() if not r]
    text = f"{len(refused)}/{len(results)} refused (Permissions Violation for Publish)"
    return len(refused), text + (f"; TAKEN: {', '.join(taken)}" if taken else "")


async def test_nobody_connects_without_a_credential_the_server_knows(nats_server, attacks, tmp_path):
    with pytest.raises(Exception) as anonymous:
        await nats.connect(nats_server.url, allow_reconnect=False, max_reconnect_attempts=0)
    attacks.record("connect to the bus without a credential", "NATS refuses the connection",
                   str(anonymous.value).removeprefix("nats: "), "authorization violation" in str(anonymous.value).lower())
    stranger = tmp_path / "stranger.nk"
    stranger.write_bytes(new_seed())
    with pytest.raises(Exception) as unknown:
        await nats.connect(nats_server.url, allow_reconnect=False, max_reconnect_attempts=0,
                           **connect_options(stranger))
    attacks.record("connect with a well-formed nkey the server does not list", "NATS refuses the connection",
                   str(unknown.value).removeprefix("nats: "), "authorization violation" in str(unknown.value).lower())


async def test_each_credential_publishes_only_the_subjects_the_bus_map_gives_it(nats_server, bus, bus_permissions,
                                                                                  attacks):
    durables = {s.durable for s in subscriptions(Settings()) if s.durable}
    candidates = sorted({cls.topic for cls in EVENT_TYPES.values()} | {dlq_subject(d) for d in durables}
                        | {"driftline.anything.else", "$JS.API.STREAM.LIST"})
    for identity in NOT_OPERATOR:
        grants = bus_permissions[identity]
        not_owned = [s for s in candidates if not owns(grants, s)]
        before = await stored_counts(bus)
        p = await probe(nats_server, identity)
        try:
            results = await p.publish_all(not_owned)
            owned_event = next((cls.topic for cls in EVENT_TYPES.values() if owns(grants, cls.topic)), None)
            if owned_event:  # the credential is not simply dead: what it owns goes through
                assert await p.publish(owned_event, b"not an event") is None, (identity, owned_event)
        finally:
            await p.close()
        after = await stored_counts(bus)
        added = sum(after.values()) - sum(before.values())
        refused, text = summary(results)
        attacks.record(f"the {identity} credential publishes each subject it does not own ({len(not_owned)})",
                       "NATS refuses each publish; nothing is stored",
                       f"{text}; stored {added - (1 if owned_event else 0)} of them",
                       refused == len(not_owned) and added == (1 if owned_event else 0))


async def test_only_the_agent_schedules_and_only_the_projector_checkpoints(nats_server, bus, attacks):
    schedulers = [i for i in NOT_OPERATOR if i != "agent"]
    checkpointers = [i for i in NOT_OPERATOR if i != "projector"]
    for subject, who, owner in ((ActionScheduled.topic, schedulers, "agent"),
                                (AuditCheckpoint.topic, checkpointers, "projector")):
        refusals = []
        for identity in who:
            p = await probe(nats_server, identity)
            try:
                refusals.append(await p.publish(subject, b'{"forged": true}'))
            finally:
                await p.close()
        stored = (await bus.js.stream_info("AUDIT", subjects_filter=subject)).state.subjects or {}
        attacks.record(f"forge {subject} with each credential but the {owner}'s ({len(who)})",
                       "NATS refuses every one; none reaches AUDIT",
                       f"{sum(r is not None for r in refusals)}/{len(who)} refused; {stored.get(subject, 0)} stored",
                       all(refusals) and not stored)


async def test_nobody_but_the_operator_deletes_purges_or_changes_a_stream(nats_server, bus, attacks):
    audit = (await bus.js.stream_info("AUDIT")).config.as_dict()
    weakened = {**audit, "deny_delete": False, "deny_purge": False, "max_age": 1_000_000_000}
    tries = [(f"{API}.STREAM.DELETE.{s}", None) for s in ("AUDIT", "REQUESTS", "PREDICTIONS", "DLQ")]
    tries += [(f"{API}.STREAM.PURGE.{s}", {}) for s in ("AUDIT", "REQUESTS", "PREDICTIONS", "DLQ")]
    tries += [(f"{API}.STREAM.UPDATE.AUDIT", weakened), (f"{API}.STREAM.CREATE.SHADOW",
                                                          {"name": "SHADOW", "subjects": ["driftline.shadow.>"]}),
              (f"{API}.STREAM.MSG.DELETE.AUDIT", {"seq": 1})]
    for identity in NOT_OPERATOR:
        own = {f"{API}.STREAM.PURGE.REQUESTS", f"{API}.STREAM.PURGE.PREDICTIONS"} if identity == "agent" else set()
        p = await probe(nats_server, identity)
        try:
            answers = {subject: await p.api(subject, body) for subject, body in tries if subject not in own}
        finally:
            await p.close()
        refused = [s for s, a in answers.items() if a.lower().startswith("permissions violation")]
        attacks.record(f"the {identity} credential deletes, purges, re-configures or creates streams "
                       f"({len(answers)} requests)" + (" but its delete_data purges" if own else ""),
                       "NATS refuses each request",
                       f"{len(refused)}/{len(answers)} refused (Permissions Violation for Publish to $JS.API...)",
                       len(refused) == len(answers))
    info = await bus.js.stream_info("AUDIT")
    assert info.config.deny_purge and info.config.deny_delete and info.config.max_age == 0
    p = await probe(nats_server, OPERATOR)
    try:
        purge = json.loads(await p.api(f"{API}.STREAM.PURGE.AUDIT", {}))
    finally:
        await p.close()
    attacks.record("the operator credential purges AUDIT", "JetStream refuses: the stream denies purges",
                   purge.get("error", {}).get("description", str(purge)), "error" in purge)


async def test_a_reader_cannot_take_over_another_services_consumer(nats_server, bus, settings, attacks):
    for durable, subject in (("agent-executor", ActionScheduled.topic), ("audit-projector", "driftline.>")):
        await ensure_consumer(bus.js, stream="AUDIT", durable=durable, subjects=(subject,), max_deliver=5,
                              ack_wait=30)
    blinding = {"stream_name": "AUDIT", "config": {"name": "agent-executor", "filter_subject": "driftline.nothing",
                                                   "ack_policy": "explicit", "deliver_policy": "all"}}
    cases = [
        ("gateway", "re-configures the executor's durable (create request naming it in the body)",
         f"{API}.CONSUMER.CREATE.AUDIT", blinding),
        (AUDITOR, "re-configures the executor's durable (create request naming it in the body)",
         f"{API}.CONSUMER.CREATE.AUDIT", blinding),
        ("worker", "creates a durable named like the projector's",
         f"{API}.CONSUMER.DURABLE.CREATE.AUDIT.audit-projector",
         {"stream_name": "AUDIT", "config": {"durable_name": "audit-projector", "ack_policy": "explicit"}}),
        ("notifier", "pulls the executor's next action from its durable",
         f"{API}.CONSUMER.MSG.NEXT.AUDIT.agent-executor", {"batch": 1}),
        ("monitor", "deletes the projector's durable", f"{API}.CONSUMER.DELETE.AUDIT.audit-projector", None),
    ]
    for identity, what, subject, body in cases:
        p = await probe(nats_server, identity)
        try:
            answer = await p.api(subject, body)
        finally:
            await p.close()
        attacks.record(f"the {identity} credential {what}", "NATS refuses the request", answer[:120],
                       answer.lower().startswith("permissions violation"))
    p = await probe(nats_server, "agent")
    try:
        answer = json.loads(await p.api(f"{API}.CONSUMER.DURABLE.CREATE.AUDIT.agent-gate", {
            "stream_name": "AUDIT", "config": {"durable_name": "audit-projector", "ack_policy": "explicit"}}))
    finally:
        await p.close()
    attacks.record("the agent uses its own durable's create subject to re-configure the projector's",
                   "JetStream refuses: the name in the body is not the subject's",
                   answer.get("error", {}).get("description", str(answer)), "error" in answer)
    executor = await bus.js.consumer_info("AUDIT", "agent-executor")
    assert executor.config.filter_subject == ActionScheduled.topic  # untouched by all of the above


async def test_no_identity_listens_to_what_is_not_its_own(nats_server, bus, attacks):
    agent_inbox = inbox_prefix(nats_server.auth.public_key("agent"))
    producer_inbox = inbox_prefix(nats_server.auth.public_key("producers"))
    cases = [("gateway", "subscribe", "_INBOX.>", "every service's replies (JetStream deliveries, acks)"),
             ("gateway", "subscribe", f"{agent_inbox}.>", "the agent's replies"),
             ("notifier", "subscribe", "driftline.>", "every event as it is published"),
             ("ui", "subscribe", "driftline.action.>", "the actions as they are scheduled"),
             ("worker", "publish", f"{producer_inbox}.A1b2C3d4E5f6G7h8I9j0K1.1", "a forged JetStream reply to the "
                                                                                "producers' publish")]
    for identity, verb, subject, what in cases:
        p = await probe(nats_server, identity)
        try:
            answer = await (p.subscribe(subject) if verb == "subscribe" else p.publish(subject))
            if identity == "worker":  # what it may do: answer a request on its answers inbox
                assert await p.publish(f"{producer_inbox}.answers.x1") is None
        finally:
            await p.close()
        shown = subject.replace(agent_inbox, "_INBOX.<agent>").replace(producer_inbox, "_INBOX.<producers>")
        attacks.record(f"the {identity} credential {verb}s to {shown} ({what})" if verb == "publish" else
                       f"the {identity} credential subscribes to {shown} ({what})",
                       f"NATS refuses the {'subscription' if verb == 'subscribe' else 'publish'}",
                       answer or "allowed", answer is not None)


async def test_the_auditor_reads_audit_and_nothing_else(nats_server, bus, attacks):
    await bus.publish(PredictionMade(source="inference/worker", subject="m", data=dict(
        request_id="r1", model="m", model_version="1", features={}, predicted_class=0, probabilities={"0": 1.0},
        latency_ms=1.0, channel="bus")))
    await bus.publish(AuditCheckpoint(source="audit/projector", subject="audit",  # checkpoints are signed now
                                      data=sign(Signer(Ed25519PrivateKey.generate()), 0, "0" * 64, 0)))
    p = await probe(nats_server, AUDITOR)
    try:
        publishes = await p.publish_all([cls.topic for cls in EVENT_TYPES.values()])
        other_stream = await p.api(f"{API}.DIRECT.GET.PREDICTIONS", {"seq": 1, "batch": 1})
        stream_list = await p.api(f"{API}.STREAM.INFO.REQUESTS")
        js = p.nc.jetstream()
        audit = [m.subject async for m in read_stream(js, "AUDIT")]  # what it is for still works
    finally:
        await p.close()
    refused, text = summary(publishes)
    attacks.record(f"the auditor credential publishes each event subject ({len(publishes)})",
                   "NATS refuses each publish", text, refused == len(publishes))
    attacks.record("the auditor credential reads PREDICTIONS", "NATS refuses the direct get", other_stream[:120],
                   other_stream.lower().startswith("permissions violation"))
    attacks.record("the auditor credential asks about another stream (REQUESTS)", "NATS refuses the request",
                   stream_list[:120], stream_list.lower().startswith("permissions violation"))
    assert audit == [AuditCheckpoint.topic]
