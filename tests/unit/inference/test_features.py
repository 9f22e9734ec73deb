"""Records checked against the signature: every wrong field named; one frame per batch."""

from __future__ import annotations

import pytest

from inference.features import build_frame, check_record, summary
from inference.http_body import InvalidBody, parse_predict_body

TYPES = {"x": "double", "n": "long", "flag": "boolean", "city": "string"}
GOOD = {"x": 1.5, "n": 3, "flag": True, "city": "Oslo"}


def test_a_good_record_has_no_errors():
    assert check_record(GOOD, TYPES) == []
    assert check_record({**GOOD, "x": 2, "n": 4.0}, TYPES) == []  # an int is a number; 4.0 is an integer


def test_each_wrong_field_is_named():
    bad = {"x": "1.5", "n": 2.5, "flag": 1, "zip": "0150"}
    errors = {".".join(map(str, e.loc)): (e.kind, e.msg) for e in check_record(bad, TYPES, ("features",))}
    assert errors == {
        "features.x": ("type_error", "expected a number, got string"),
        "features.n": ("type_error", "expected an integer, got number"),
        "features.flag": ("type_error", "expected a boolean, got integer"),
        "features.city": ("missing", "field required"),
        "features.zip": ("extra_forbidden", "extra field not permitted (not a model feature)"),
    }


def test_booleans_and_nulls_are_not_numbers():
    errors = check_record({**GOOD, "x": True, "n": None}, TYPES)
    assert [(e.loc, e.msg) for e in errors] == [(("x",), "expected a number, got boolean"),
                                                (("n",), "expected an integer, got null")]


@pytest.mark.parametrize("body, loc, kind", [
    (b"{not json", ["body"], "json_invalid"),
    (b"[1, 2]", ["body"], "type_error"),
    (b"{}", ["body"], "missing"),
    (b'{"records": []}', ["body", "records"], "too_short"),
    (b'{"records": {"x": 1}}', ["body", "records"], "type_error"),
    (b'{"records": [1]}', ["body", "records", 0], "type_error"),
    (b'{"features": {"x": 1.0, "n": 1, "flag": true, "city": "a"}, "extra": 1}', ["body", "extra"], "extra_forbidden"),
    (b'{"features": {"x": 1.0, "n": 1, "flag": true, "city": "a"}, "request_id": 5}', ["body", "request_id"],
     "type_error"),
])
def test_bad_bodies_say_where_and_what(body, loc, kind):
    with pytest.raises(InvalidBody) as caught:
        parse_predict_body(body, TYPES, max_records=10)
    assert [(e.as_dict()["loc"], e.kind) for e in caught.value.errors] == [(loc, kind)]
    assert summary(caught.value.errors).startswith("1 invalid field(s): ")


def test_a_batch_over_the_limit_is_refused():
    body = b'{"records": [' + b",".join([b'{"x": 1.0, "n": 1, "flag": true, "city": "a"}'] * 3) + b"]}"
    with pytest.raises(InvalidBody, match="over the limit of 2"):
        parse_predict_body(body, TYPES, max_records=2)
    assert len(parse_predict_body(body, TYPES, max_records=3).records) == 3


def test_errors_in_a_batch_carry_the_record_index():
    body = b'{"records": [{"x": 1.0, "n": 1, "flag": true, "city": "a"}, {"x": 1.0, "n": 1, "flag": true}]}'
    with pytest.raises(InvalidBody) as caught:
        parse_predict_body(body, TYPES, max_records=10)
    assert [e.loc for e in caught.value.errors] == [("body", "records", 1, "city")]


def test_one_frame_per_batch_with_signature_dtypes():
    frame = build_frame([GOOD, {**GOOD, "n": 7}], list(TYPES), TYPES)
    assert list(frame.columns) == list(TYPES)
    assert [str(t) for t in frame.dtypes] == ["float64", "int64", "bool", "object"]
    assert frame["n"].tolist() == [3, 7]


def test_numbers_beyond_what_the_column_holds_are_named():
    errors = check_record({**GOOD, "x": 10**400, "n": 2**63}, TYPES)
    assert [(e.loc, e.msg) for e in errors] == [(("x",), "number out of range (beyond a 64-bit float)"),
                                                (("n",), f"integer out of range ({-2**63} to {2**63 - 1})")]
    assert check_record({"x": 10**400}, {"x": "double"})[0].msg.startswith("number out of range")  # the fast check
