"""The NATS permissions are the bus map, nothing more: a subject added to the map is in the permission, a subject
a service does not own is not, and the rules of issue 15 hold (tests/security tries them on a real server)."""

from __future__ import annotations

import pytest

from driftline import bus_map
from driftline.bus_permissions import identities, permissions
from infra.nats_auth import AUDITOR, OPERATOR, Grants, render_users
from infra.settings import Settings
from schemas import EVENT_TYPES, ActionScheduled, AlertRaised, AuditCheckpoint
from schemas.streams import subjects_overlap

API = "$JS.API"


@pytest.fixture(scope="module")
def table() -> dict[str, Grants]:
    return permissions(Settings())


def may_publish(grants: Grants, subject: str) -> bool:
    return any(subjects_overlap(pattern, subject) for pattern in grants.publish)


def owners(cls) -> set[str]:
    declared = {**bus_map.PUBLISHES, **{name: classes for name, (_, classes) in bus_map.COMMANDS.items()}}
    return {name for name, classes in declared.items() if cls in classes}


def test_a_subject_added_to_the_map_is_in_the_permission(monkeypatch):
    assert not may_publish(permissions(Settings())["ui"], AlertRaised.topic)
    monkeypatch.setitem(bus_map.PUBLISHES, "ui", (*bus_map.PUBLISHES["ui"], AlertRaised))
    assert may_publish(permissions(Settings())["ui"], AlertRaised.topic)
    monkeypatch.setitem(bus_map.READS, "ui", ("AUDIT",))
    assert f"{API}.DIRECT.GET.AUDIT" in permissions(Settings())["ui"].publish


def test_every_identity_publishes_exactly_the_events_the_map_gives_it(table):
    for identity in identities():
        if identity == OPERATOR:
            continue
        for cls in EVENT_TYPES.values():
            assert may_publish(table[identity], cls.topic) == (identity in owners(cls)), (identity, cls.topic)


def test_the_rules_of_issue_15(table):
    assert not any(may_publish(table["gateway"], s) for s in ("driftline.action.scheduled", "driftline.action.x"))
    assert {i for i in identities() if may_publish(table[i], ActionScheduled.topic)} == {"agent", OPERATOR}
    assert {i for i in identities() if may_publish(table[i], AuditCheckpoint.topic)} == {"projector", OPERATOR}
    manage = [f"{API}.STREAM.{verb}.{stream}" for verb in ("CREATE", "UPDATE", "DELETE", "PURGE", "MSG.DELETE")
              for stream in ("AUDIT", "REQUESTS", "PREDICTIONS", "DLQ", "OTHER")]
    for identity in identities():
        allowed = {s for s in manage if may_publish(table[identity], s)}
        if identity == OPERATOR:
            assert allowed == set(manage)
        elif identity == "agent":  # delete_data, two admins: the data plane only
            assert allowed == {f"{API}.STREAM.PURGE.REQUESTS", f"{API}.STREAM.PURGE.PREDICTIONS"}
        else:
            assert not allowed, identity
    auditor = table[AUDITOR]
    assert all(s.startswith(f"{API}.") and s.split(".")[-1] in ("AUDIT", "*") for s in auditor.publish), auditor
    assert not auditor.subscribe  # its own inbox only (added with its key)


def test_consumers_are_the_wiring_and_nobody_makes_an_unnamed_one(table):
    for sub in bus_map.subscriptions(Settings()):
        grants = table[sub.service]
        if sub.durable:
            for verb in ("DURABLE.CREATE", "INFO", "MSG.NEXT"):
                assert may_publish(grants, f"{API}.CONSUMER.{verb}.{sub.stream}.{sub.durable}"), (sub, verb)
            assert may_publish(grants, f"$JS.ACK.{sub.stream}.{sub.durable}.1.2.3.4.5")
        else:
            assert set(sub.subjects) <= grants.subscribe
    for identity in identities():
        if identity != OPERATOR:  # the unnamed create can re-configure any consumer: nobody else has it
            assert not any(may_publish(table[identity], f"{API}.CONSUMER.CREATE.{s}") for s in ("AUDIT", "REQUESTS"))
    for identity, streams in bus_map.READS.items():
        for stream in streams:
            assert f"{API}.DIRECT.GET.{stream}" in table[identity].publish


def test_config_followers_read_the_last_config_change_and_nothing_else_of_audit(table):
    followers = {sub.service for sub in bus_map.subscriptions(Settings()) if sub.subjects == (bus_map.CONFIG_SUBJECT,)}
    assert {"monitor", "worker", "gateway"} <= followers
    for service in followers:
        assert may_publish(table[service], f"{API}.DIRECT.GET.AUDIT.{bus_map.CONFIG_SUBJECT}")
        if "AUDIT" not in bus_map.READS.get(service, ()):
            assert not may_publish(table[service], f"{API}.DIRECT.GET.AUDIT")  # not the whole trail
            assert not may_publish(table[service], f"{API}.DIRECT.GET.AUDIT.driftline.approval.decided")


def test_the_users_file_names_each_identity_with_its_own_inbox():
    text = render_users([("agent", "UAGENT", Grants.of(["driftline.action.scheduled"])),
                         (OPERATOR, "UOPER", Grants.of([">"], [">"]))])
    assert '{nkey: "UAGENT"' in text and '"_INBOX.UAGENT.>"' in text and '"driftline.action.scheduled"' in text
    assert "_INBOX.UOPER" not in text  # the operator subscribes to everything anyway
