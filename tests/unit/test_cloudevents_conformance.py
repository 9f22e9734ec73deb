"""CloudEvents 1.0 to the letter: every event type round-trips through the official SDK's JSON format, and events the
SDK builds (optional attributes, extensions) are read, carried through and written back."""

from __future__ import annotations

import json

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from schemas import EVENT_TYPES, InvalidEvent, new_id, parse_event
from tests.unit.event_samples import every_event, sample_data

FORMAT = JSONFormat()
SCHEMA_URI = "https://schemas.example.com/driftline/alert.raised.v1.json"


@pytest.mark.parametrize("event", every_event(causation_id=new_id()), ids=lambda e: e.type)
def test_the_sdk_reads_every_event_type_and_writes_it_back_unchanged(event):
    sdk = FORMAT.read(None, event.to_bytes())  # validates names, required attributes and types as the SDK sees them
    assert (sdk.get_specversion(), sdk.get_id(), sdk.get_type()) == ("1.0", event.id, event.type)
    assert (sdk.get_source(), sdk.get_subject(), sdk.get_time()) == (event.source, event.subject, event.time)
    assert sdk.get_extension("correlationid") == event.correlation_id
    assert sdk.get_extension("causationid") == event.causation_id
    assert json.loads(json.dumps(sdk.get_data())) == json.loads(event.model_dump_json())["data"]
    again = parse_event(FORMAT.write(sdk))
    assert type(again) is type(event) and again == event


def test_every_registered_type_is_covered():
    assert {e.type for e in every_event()} == set(EVENT_TYPES)


@pytest.mark.parametrize("etype", sorted(EVENT_TYPES))
def test_an_sdk_built_event_with_optional_attributes_and_extensions_is_carried_through(etype):
    cause = new_id()
    sdk = CloudEvent({
        "type": etype, "source": "https://producer.example.com/jobs", "subject": "driftline-classifier",
        "datacontenttype": "application/json; charset=utf-8", "dataschema": SCHEMA_URI,
        "correlationid": cause, "causationid": cause,
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "comexampleothervalue": 5,
        "comexampleprioritylevel": 2, "comexampleflag": True,  # a name past 20 characters: a SHOULD, not a MUST
    }, sample_data(EVENT_TYPES[etype]))
    ours = parse_event(FORMAT.write(sdk))
    assert type(ours) is EVENT_TYPES[etype]
    assert ours.id == sdk.get_id() and ours.time == sdk.get_time()
    assert (ours.datacontenttype, ours.dataschema) == ("application/json; charset=utf-8", SCHEMA_URI)
    assert (ours.correlation_id, ours.causation_id) == (cause, cause)
    assert ours.extensions == {"traceparent": sdk.get_extension("traceparent"), "comexampleothervalue": 5,
                               "comexampleprioritylevel": 2, "comexampleflag": True}
    back = FORMAT.read(None, ours.to_bytes())  # and what we write again still carries all of it
    assert back.get_attributes() == sdk.get_attributes()


def _doc(**changes) -> dict:
    doc = json.loads(every_event()[0].to_bytes())
    doc.update(changes)
    return doc


def test_null_attributes_are_absent_and_long_extension_names_are_accepted():
    doc = _doc(dataschema=None, causationid=None, unsetextension=None, averyveryverylongextensionname="ok")
    event = parse_event(json.dumps(doc))
    assert event.dataschema is None and event.causation_id is None
    assert event.extensions == {"averyveryverylongextensionname": "ok"}  # "SHOULD NOT exceed 20": not a MUST
    assert "unsetextension" not in json.loads(event.to_bytes())


def test_events_written_under_the_old_names_are_still_read():
    doc = _doc()
    doc["correlation_id"], doc["causation_id"] = doc.pop("correlationid"), "cause-1"
    event = parse_event(json.dumps(doc))
    assert (event.correlation_id, event.causation_id) == (doc["correlation_id"], "cause-1")
    written = json.loads(event.to_bytes())
    assert "correlationid" in written and "correlation_id" not in written


@pytest.mark.parametrize("changes, reason", [
    ({"trace_id": "x"}, "'trace_id': CloudEvents attribute names are lower-case a-z and 0-9 only"),
    ({"TraceId": "x"}, "'TraceId': CloudEvents attribute names"),
    ({"big": 2**31}, "'big': an integer must fit in 32 bits"),
    ({"ratio": 0.5}, "'ratio' must be a string, integer or boolean, not float"),
    ({"nested": {"a": 1}}, "'nested' must be a string, integer or boolean, not dict"),
    ({"note": "two\nlines"}, "'note': control characters"),
    ({"subject": "a\u0000b"}, "subject: control characters"),
    ({"datacontenttype": "application/xml"}, "must be */json or */*+json"),
    ({"dataschema": "schemas/x.json"}, "must be an absolute URI"),
    ({"subject": ""}, "subject: String should have at least 1 character"),
    ({"source": ""}, "source: String should have at least 1 character"),
    ({"data_base64": "AAAA"}, "data_base64: binary data is not accepted"),
])
def test_what_the_specification_forbids_is_refused_with_the_attribute_named(changes, reason):
    with pytest.raises(InvalidEvent) as err:
        parse_event(json.dumps(_doc(**changes)))
    assert reason in str(err.value)


@pytest.mark.parametrize("media_type", ["application/json", "text/json", "application/cloudevents+json",
                                        "application/vnd.driftline+json; charset=utf-8"])
def test_any_json_media_type_is_accepted(media_type):
    assert parse_event(json.dumps(_doc(datacontenttype=media_type))).datacontenttype == media_type
