"""The envelope: round trip, time-ordered ids, deterministic derived ids, clear rejection of bad input."""

import json
import uuid

import pytest
from pydantic import ValidationError

from schemas import (
    EVENT_TYPES,
    AlertRaised,
    InvalidEvent,
    PredictionRequested,
    derived_id,
    new_id,
    parse_event,
)
from schemas.envelope import id_time
from schemas.streams import AUDIT, PREDICTIONS, REQUESTS, stream_for, streams_storing


def request(**features) -> PredictionRequested:
    return PredictionRequested(source="test", subject="m", data={"request_id": "r1", "features": features or {"a": 1}})


def test_round_trip_is_identical():
    event = request(a=1.5, b="x", c=None)
    again = parse_event(event.to_bytes())
    assert again == event
    assert type(again) is PredictionRequested
    assert again.correlation_id == event.id  # the first event of a chain is its own correlation


def test_ids_are_uuid7_and_time_ordered():
    ids = [new_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert abs((id_time(ids[0]) - request().time).total_seconds()) < 5


def test_derived_ids_are_deterministic_and_keep_the_chain():
    cause = request()
    alert_data = dict(kind="data_drift", model="m", fingerprint="f", statistic="psi", value=0.3, threshold=0.2,
                      detector="psi")
    one = cause.caused(AlertRaised, source="monitor", data=alert_data)
    two = cause.caused(AlertRaised, source="monitor", data=alert_data)
    assert one.id == two.id == derived_id(cause.id, one.type)
    assert one.correlation_id == cause.id and one.causation_id == cause.id
    assert cause.caused(AlertRaised, source="monitor", data=alert_data, key="other").id != one.id
    assert uuid.UUID(one.id).version == 7 and id_time(one.id) == id_time(cause.id)


def test_derived_ids_do_not_change_between_versions():
    # A request redelivered across an upgrade must derive the same prediction id, or dedupe would miss the copy.
    made = "driftline.prediction.made.v1"
    assert derived_id("01a22208-b8ca-7000-9cd6-7fc622709949", made) == "01a22208-b8ca-7b31-955c-9ee290b01aac"
    assert derived_id("{01A22208-B8CA-7000-9CD6-7FC622709949}", made) == "01a22208-b8ca-77f7-ade8-219f68891f4a"
    with pytest.raises(ValueError):
        derived_id("not-a-uuid", made)


def test_unknown_type_is_rejected_with_the_known_types():
    doc = json.loads(request().to_bytes())
    doc["type"] = "driftline.nope.v1"
    with pytest.raises(InvalidEvent, match=r"unknown event type 'driftline.nope.v1'; known types: .*alert"):
        parse_event(json.dumps(doc))


def test_invalid_body_names_the_field():
    doc = json.loads(request().to_bytes())
    del doc["data"]["request_id"]
    doc["data"]["surprise"] = 1
    with pytest.raises(InvalidEvent) as err:
        parse_event(json.dumps(doc))
    assert "data.request_id: Field required" in str(err.value)
    assert "data.surprise: Extra inputs are not permitted" in str(err.value)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"no": "type"}'])
def test_garbage_is_rejected(raw):
    with pytest.raises(InvalidEvent):
        parse_event(raw)


def test_events_are_frozen():
    event = request()
    with pytest.raises(ValidationError):
        event.source = "other"


def test_every_family_is_registered_and_every_field_described():
    families = {etype.split(".")[1] for etype in EVENT_TYPES}
    assert families >= {"prediction", "feedback", "data", "model", "monitoring", "alert", "diagnosis",
                        "approval", "action", "audit"}
    for etype, cls in EVENT_TYPES.items():
        assert etype.endswith(".v1")
        data_cls = cls.model_fields["data"].annotation
        for name, info in data_cls.model_fields.items():
            assert info.description, f"{data_cls.__name__}.{name} has no description"


def test_each_subject_has_exactly_one_stream():
    for cls in EVENT_TYPES.values():
        assert stream_for(cls.topic) in (REQUESTS, PREDICTIONS, AUDIT)
        matching = streams_storing(cls.topic)
        assert len(matching) == 1, f"{cls.topic} is stored by {[s.name for s in matching]}"
    assert stream_for("driftline.prediction.requested") is REQUESTS
    assert stream_for("driftline.prediction.made") is PREDICTIONS
    with pytest.raises(KeyError):
        stream_for("driftline.prediction.requestedx")
