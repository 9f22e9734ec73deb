"""The /predict body: read within a size bound (infra.http_limits), and checked against the model's signature."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from inference.features import FieldError, check_record


class InvalidBody(Exception):
    """The body cannot be served; `errors` names each wrong field."""

    def __init__(self, errors: list[FieldError]):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class PredictBody:
    records: list[dict]
    request_ids: list[str | None]
    single: bool


def _body_error(loc: tuple, msg: str, kind: str) -> InvalidBody:
    return InvalidBody([FieldError(("body", *loc), msg, kind)])


def parse_predict_body(raw: bytes, feature_types: dict[str, str], max_records: int) -> PredictBody:
    """{"features": {...}, "request_id"?} for one record or {"records": [{...}, ...], "request_ids"?} for a batch."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _body_error((), f"body is not valid JSON: {exc}", "json_invalid") from None
    if not isinstance(doc, dict):
        raise _body_error((), 'expected a JSON object with "features" (one record) or "records" (a batch)', "type_error")
    errors = [FieldError(("body", key), "extra field not permitted", "extra_forbidden")
              for key in doc if key not in ("features", "records", "request_id", "request_ids")]
    single = "features" in doc
    if single == ("records" in doc):
        errors.append(FieldError(("body",), 'give exactly one of "features" (one record) or "records" (a batch)',
                                 "missing" if not single else "value_error"))
        raise InvalidBody(errors)
    if single:
        records = [doc["features"]]
        ids = [doc.get("request_id")]
        errors += check_record(doc["features"], feature_types, ("body", "features"))
        id_errors = _check_ids(ids, ("request_id",))
    else:
        records = doc["records"]
        if not isinstance(records, list):
            raise InvalidBody([*errors, FieldError(("body", "records"), "expected a list of records", "type_error")])
        if not records:
            raise InvalidBody([*errors, FieldError(("body", "records"), "empty batch: give at least one record",
                                                   "too_short")])
        if len(records) > max_records:
            raise InvalidBody([*errors, FieldError(("body", "records"), f"batch of {len(records)} records is over "
                                                   f"the limit of {max_records}", "too_long")])
        ids = doc.get("request_ids")
        if ids is None:
            ids = [None] * len(records)
            id_errors = []
        elif not isinstance(ids, list) or len(ids) != len(records):
            ids = [None] * len(records)
            id_errors = [FieldError(("body", "request_ids"), "expected a list of strings, one per record",
                                    "value_error")]
        else:
            id_errors = _check_ids(ids, ("request_ids",))
        for i, record in enumerate(records):
            errors += check_record(record, feature_types, ("body", "records", i))
    errors += id_errors
    if errors:
        raise InvalidBody(errors)
    return PredictBody(records, ids, single)


def _check_ids(ids: list, loc: tuple) -> list[FieldError]:
    """Caller-given request ids must be non-empty strings (None means: mint one)."""
    return [FieldError(("body", *loc, *((i,) if loc == ("request_ids",) else ())), "expected a non-empty string",
                       "type_error")
            for i, rid in enumerate(ids) if rid is not None and not (isinstance(rid, str) and rid)]
