"""Well-formed envelopes with wrong types inside: the story, the incident fold and the chain link never raise."""

from __future__ import annotations

import json

from consumers.audit.chain import GENESIS, ID_LIMIT, link
from consumers.audit.fold import incident_updates, log_record, status_of
from consumers.audit.replay import chapter
from consumers.audit.story import UNTOLD, tell

DRIFT = {"specversion": "1.0", "id": "0190a000-0000-7000-8000-000000000001", "type": "driftline.monitoring.drift_report.v1",
         "source": "mallory", "subject": "m", "time": "2026-01-01T00:00:00Z", "correlationid": "c-1",
         "data": {"model": "m", "share_drifted": "x"}}
POISON = {
    "share_drifted is text": DRIFT,
    "action is text": {**DRIFT, "type": "driftline.action.scheduled.v1", "data": {"action": "x", "approved_by": 1}},
    "params is a list": {**DRIFT, "type": "driftline.approval.requested.v1",
                         "data": {"action": {"kind": "k", "params": [1, 2]}}},
    "proposed actions are numbers": {**DRIFT, "type": "driftline.diagnosis.made.v1",
                                     "data": {"revision": "two", "proposed_actions": [1, 2]}},
    "data is a list": {**DRIFT, "data": [1, 2, 3]},
    "checkpoint without data": {**DRIFT, "type": "driftline.audit.checkpoint.v1", "data": None},
}


def test_every_poison_gets_a_story_line_and_a_row():
    for name, doc in POISON.items():
        line = tell(doc)
        assert isinstance(line.what, str) and isinstance(line.outcome, str), name
        status_of(doc)  # no exception
        lk = link(7, "driftline.monitoring.drift_report", json.dumps(doc).encode(), GENESIS)
        assert log_record(lk)[0] == 7, name
        chapter(7, json.dumps(doc).encode())
    drift = tell(DRIFT)
    assert drift.outcome == UNTOLD and "share_drifted" not in drift.what and "ValueError" in drift.why


def test_the_fold_of_a_poisoned_chain_keeps_the_good_events():
    good = {**DRIFT, "type": "driftline.alert.raised.v1", "id": "c-1",
            "data": {"kind": "data_drift", "model": "m", "value": 1, "threshold": 0.5}}
    links = [link(1, "a", json.dumps(good).encode(), GENESIS)]
    links.append(link(2, "b", json.dumps(POISON["action is text"]).encode(), links[0].hash))
    [row] = incident_updates(links)
    assert row[7] == 2 and row[8] == "open"  # counted, and the poison moved nothing


def test_nul_characters_and_huge_ids_become_storable_columns_while_the_canonical_text_keeps_them():
    doc = {**DRIFT, "id": "a\u0000b", "correlationid": "c" * 5000, "source": "s\u0000"}
    lk = link(3, "s", json.dumps(doc).encode(), GENESIS)
    assert "\x00" not in lk.event_id and len(lk.correlation_id) <= ID_LIMIT
    assert json.loads(lk.canonical)["correlationid"] == "c" * 5000
    assert all("\x00" not in str(v) for v in log_record(lk) if isinstance(v, str))
    other = link(3, "s", json.dumps({**doc, "correlationid": "c" * 4999 + "d"}).encode(), GENESIS)
    assert other.correlation_id != lk.correlation_id  # the cut keeps a hash of the whole


def test_a_lone_surrogate_beside_a_long_number_is_kept_as_wrapped_bytes():
    raw = b'{"id": "x", "n": 12345678901234567890123, "s": "\\ud800"}'
    lk = link(4, "s", raw, GENESIS)
    assert set(json.loads(lk.canonical)) == {"invalid_message_base64"} and lk.type == "invalid"
