"""The hash chain, the projector's ordering plan, checkpoints, and the story of an event: pure, no servers."""

from __future__ import annotations

import hashlib
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.audit.chain import GENESIS, canonical_json, chain_hash, link
from consumers.audit.fold import incident_updates, status_of
from consumers.audit.projector import checkpoint_for, plan
from consumers.audit.replay import chapter, table
from consumers.audit.signing import Keyring
from consumers.audit.story import tell
from infra.keys import Signer
from schemas import ActionCompleted, ActionVerified, DataValidated
from tests.integration.audit_helpers import incident


def test_canonical_json_is_order_and_space_independent():
    a = canonical_json(b'{"b": 1, "a": {"y": [1, 2], "x": "\xc3\xa9"}}')
    b = canonical_json(b'{"a":{"x":"\xc3\xa9","y":[1,2]},"b":1}')
    assert a == b == '{"a":{"x":"é","y":[1,2]},"b":1}'


def test_invalid_bytes_are_wrapped_not_dropped():
    wrapped = json.loads(canonical_json(b"\xff not json"))
    assert set(wrapped) == {"invalid_message_base64"}
    assert link(3, "driftline.alert.raised", b"[1]", GENESIS).type == "invalid"


def test_hash_is_sha256_of_prev_hash_then_canonical():
    canonical = canonical_json(b'{"id": "e1"}')
    assert chain_hash(GENESIS, canonical) == hashlib.sha256((GENESIS + canonical).encode()).hexdigest()
    first = link(1, "s", b'{"id": "e1"}', GENESIS)
    second = link(2, "s", b'{"id": "e2"}', first.hash)
    assert second.prev_hash == first.hash and second.hash != link(2, "s", b'{"id": "e2"}', GENESIS).hash


def test_plan_chains_only_what_continues_the_log():
    msgs = [(5, "s", b'{"id":"e5"}', "m5"), (3, "s", b'{"id":"e3"}', "m3"), (2, "s", b'{"id":"e2"}', "m2"),
            (7, "s", b'{"id":"e7"}', "m7")]
    step = plan(msgs, head_seq=2, head_hash="h2")
    assert [lk.seq for lk in step.links] == [3]  # 4 is missing: 5 and 7 wait for it
    assert step.links[0].prev_hash == "h2"
    assert step.ack == ["m2", "m3"] and step.early == ["m5", "m7"]
    assert plan(msgs, head_seq=7, head_hash="h").links == []


def test_checkpoints_every_n_with_derived_ids_and_signatures():
    signer = Signer(Ed25519PrivateKey.generate())
    lk = link(10, "s", incident()[0].to_bytes(), GENESIS)
    cp = checkpoint_for(lk, 5, signer)
    assert cp.data.last_sequence == 10 and cp.data.head_hash == lk.hash
    again = checkpoint_for(lk, 5, signer)
    assert (again.id, again.data) == (cp.id, cp.data)  # a redelivery re-emits the same bytes: JetStream drops the copy
    assert checkpoint_for(link(11, "s", b"{}", GENESIS), 5, signer) is None
    assert checkpoint_for(lk, 0, signer) is None
    assert checkpoint_for(link(5, "s", b"not json", GENESIS), 5, signer) is not None
    ours = Keyring.of(signer.public)
    assert ours.judge(cp.data.model_dump()) == (cp.data, "")
    assert "unknown key" in Keyring.of(Signer(Ed25519PrivateKey.generate()).public).judge(cp.data.model_dump())[1]
    assert "does not verify" in ours.judge({**cp.data.model_dump(), "events": 11})[1]
    for bad in (None, [], {"last_sequence": True}, {**cp.data.model_dump(), "last_sequence": "10"},
                {**cp.data.model_dump(), "extra": 1}):
        assert ours.judge(bad)[0] is None and ours.judge(bad)[1].startswith("malformed")


def test_story_tells_who_what_why_and_outcome():
    events = incident()
    lines = [tell(json.loads(e.to_bytes())) for e in events]
    assert lines[0].what == "raised data_drift alert on m" and lines[0].outcome == "alert"
    assert (lines[3].actor, lines[3].what, lines[3].outcome) == ("agent", "asked approval for retrain_model(rows=100)",
                                                                 "pending")
    assert (lines[4].actor, lines[4].outcome, lines[4].why) == ("bob", "approved", "ok")
    assert lines[-1].outcome == "completed" and lines[-1].why == "retrained v2"
    assert tell({"type": "x.unknown.v1", "source": "s"}).what == "x.unknown"


def test_incident_fold_is_the_same_in_one_batch_or_many():
    events = incident()
    links, prev = [], GENESIS
    for seq, event in enumerate(events, 1):
        links.append(link(seq, event.topic, event.to_bytes(), prev))
        prev = links[-1].hash
    [whole] = incident_updates(links)
    # a completed repair is not the end: the incident waits for its verification
    assert whole[7] == len(events) and whole[8] == "verifying" and whole[1] == "m" and whole[9]
    parts = [incident_updates(links[:3])[0], incident_updates(links[3:])[0]]
    assert parts[0][3] == whole[3] and parts[1][4] == whole[4] and parts[0][7] + parts[1][7] == whole[7]
    assert parts[0][9] and not parts[1][9]  # the second batch only moves the incident the alert opened


def test_only_alerts_open_incidents_and_the_status_follows_the_chain():
    validated = DataValidated(source="trainer", subject="m", data=dict(
        dataset="builtin:breast_cancer", content_hash="h", rows=569, columns=["a", "target"], target="target"))
    [training] = incident_updates([link(1, validated.topic, validated.to_bytes(), GENESIS)])
    assert not training[9]  # a training run's chain is no incident
    first = incident()[0]
    log_done = first.caused(ActionCompleted, source="agent/executor", key="log", data=dict(
        action_id="a-log", kind="send_alert", model="m", summary="alert handed over"))
    verified = first.caused(ActionVerified, source="agent/diagnoser", data=dict(
        incident_id=first.id, model="m", action_id="act-1", kind="retrain_model", passed=True, basis="labels",
        rule="r", summary="version 2 recovered"))
    statuses = [status_of(json.loads(e.to_bytes())) for e in (first, log_done, verified)]
    assert statuses == ["open", None, "resolved by verification"]  # a notification resolves nothing


def test_replay_table_and_json_lines():
    chapters = [chapter(i, e.to_bytes()) for i, e in enumerate(incident(), 1)]
    text = table(chapters)
    assert text.splitlines()[0].split() == ["SEQ", "WHEN", "WHO", "WHAT", "WHY", "OUTCOME"]
    assert len(text.splitlines()) == len(chapters) + 1
    assert json.loads(chapters[4].json())["who"] == "bob"


def test_canonical_form_is_exact_for_big_integers_and_refuses_nan():
    big = canonical_json(b'{"n": 123456789012345678901234567890, "f": 1e-05}')
    assert big == '{"f":1e-05,"n":123456789012345678901234567890}'  # no precision lost
    assert canonical_json(b'{"f": 1e-05}') == '{"f":0.00001}'  # orjson's form when it can write it
    assert set(json.loads(canonical_json(b'{"x": NaN}'))) == {"invalid_message_base64"}
