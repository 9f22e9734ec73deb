"""POST /invocations bodies as `mlflow models serve` takes them, read into records under the model's names.

JSON (application/json) holds exactly one of `dataframe_split` ({"columns": [...], "data": [[...]]}),
`dataframe_records` ([{...}]), `instances` or `inputs` (rows [{...}], or columns {"name": [values]}); other top-level
keys are ignored, as MLflow does, and `params.request_ids` (optional) names each row's request for label joins.
CSV (text/csv) has a header row of column names. As in MLflow, columns the model does not use are ignored; a
missing or mistyped one is an error naming it. Unlike MLflow, JSON strings are not read as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import orjson

from inference.features import INTEGER_TYPES, NUMBER_TYPES, FieldError, check_record
from inference.http_body import InvalidBody
from inference.serving import Refused

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
JSON, CSV = "application/json", "text/csv"


def media_type(content_type: str | None) -> str:
    """The media type, or Refused(415) for one MLflow does not take (or a charset other than UTF-8)."""
    mime, *params = [part.strip() for part in (content_type or "").split(";")]
    mime = mime.lower()
    if mime not in (JSON, CSV):
        raise Refused(415, f"content type {content_type or '(none)'!r} is not served here: send {JSON} or {CSV}")
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() != "charset" or value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise Refused(415, f"content type parameter {param!r} is not understood: only charset=utf-8 is")
    return mime


def _error(loc: tuple, msg: str, kind: str = "type_error") -> InvalidBody:
    return InvalidBody([FieldError(loc, msg, kind)])


def _columns_to_rows(columns: dict, where: tuple) -> list[dict]:
    """{"name": [values], ...} -> [{"name": value, ...}, ...]; every column as long as the first."""
    lengths = {name: len(values) if isinstance(values, list) else -1 for name, values in columns.items()}
    if not lengths or -1 in lengths.values() or len(set(lengths.values())) != 1:
        raise _error(where, "expected an object of equally long lists, one per column", "value_error")
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _rows(doc: dict) -> tuple[list, tuple]:
    """The rows of a JSON body in whichever of MLflow's four formats it uses, and where they are."""
    found = [key for key in FORMATS if key in doc]
    if len(found) != 1:
        raise _error(("body",), f"give exactly one of {', '.join(FORMATS)} (got {', '.join(found) or 'none'})",
                     "missing" if not found else "value_error")
    key = found[0]
    value, where = doc[key], ("body", key)
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise _error(where, 'expected {"columns": [...], "data": [[...], ...]}')
        columns = value.get("columns")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise _error((*where, "columns"), "expected the list of column names (the model reads columns by name)")
        if "index" in value and not isinstance(value["index"], list):
            raise _error((*where, "index"), "expected a list (it is ignored)")
        bad = [i for i, row in enumerate(value["data"]) if not isinstance(row, list) or len(row) != len(columns)]
        if bad:
            raise _error((*where, "data", bad[0]), f"expected a list of {len(columns)} values, one per column")
        return [dict(zip(columns, row, strict=True)) for row in value["data"]], (*where, "data")
    if isinstance(value, dict) and key != "dataframe_records":
        return _columns_to_rows(value, where), where
    if not isinstance(value, list):
        raise _error(where, "expected a list of records")
    return value, where


def _request_ids(doc: dict, n: int) -> list[str | None]:
    params = doc.get("params", {})
    if not isinstance(params, dict):
        raise _error(("body", "params"), "expected an object")
    ids = params.get("request_ids")
    if ids is None:
        return [None] * n
    if not isinstance(ids, list) or len(ids) != n or not all(isinstance(i, str) and i for i in ids):
        raise _error(("body", "params", "request_ids"), f"expected {n} non-empty strings, one per row", "value_error")
    return ids


def _cell(text: str, wanted: str):
    """A CSV cell as the value its column takes (what MLflow's read_csv with the signature's dtypes does)."""
    if text == "":
        return None
    if wanted in NUMBER_TYPES:
        return float(text)
    if wanted in INTEGER_TYPES:
        return int(text) if text.strip().lstrip("+-").isdigit() else float(text)
    if wanted == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def _csv_rows(raw: bytes, feature_types: dict[str, str]) -> tuple[list[dict], tuple]:
    try:
        lines = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _error(("body",), f"not UTF-8 CSV: {exc}", "value_error") from None
    lines = [line for line in lines if line]
    if not lines:
        raise _error(("body",), "expected a header row of column names, then one row per record", "missing")
    header, rows = lines[0], []
    for i, line in enumerate(lines[1:]):
        if len(line) != len(header):
            raise _error(("body", "row", i), f"expected {len(header)} cells (the header's), got {len(line)}",
                         "value_error")
        record = {}
        for name, text in zip(header, line, strict=True):
            try:
                record[name] = _cell(text, feature_types.get(name, "string"))
            except ValueError:
                record[name] = text  # the record check names it: expected a number, got string
        rows.append(record)
    return rows, ("body", "row")


def parse_invocations(raw: bytes, content_type: str | None, feature_types: dict[str, str],
                      max_records: int) -> tuple[list[dict], list[str | None]]:
    """(records with exactly the model's features, request ids) or InvalidBody naming each wrong field."""
    if media_type(content_type) == CSV:
        rows, where = _csv_rows(raw, feature_types)
        ids: Sequence[str | None] | None = None
    else:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _error(("body",), f"body is not valid JSON: {exc}", "json_invalid") from None
        if not isinstance(doc, dict):
            raise _error(("body",), f"expected a JSON object with one of {', '.join(FORMATS)}")
        rows, where = _rows(doc)
        ids = _request_ids(doc, len(rows))
    if not rows:
        raise _error(where, "no rows: give at least one", "too_short")
    if len(rows) > max_records:
        raise _error(where, f"{len(rows)} rows is over the limit of {max_records}", "too_long")
    records, errors = [], []
    for i, row in enumerate(rows):
        found = check_record(row, feature_types, (*where, i))
        if any(e.kind == "extra_forbidden" for e in found):  # columns the model does not use: ignored
            row = {name: row[name] for name in row if name in feature_types}
            found = check_record(row, feature_types, (*where, i))
        errors += found
        records.append(row)
    if errors:
        raise InvalidBody(errors)
    return records, list(ids) if ids is not None else [None] * len(records)
