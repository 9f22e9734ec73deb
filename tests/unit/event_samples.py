"""A valid instance of every event type, generated from its JSON Schema (so a new type or field is covered too)."""

from __future__ import annotations

from typing import Any

from schemas import EVENT_TYPES, Event

_STRINGS = {"date-time": "2026-01-31T12:00:00Z", "date": "2026-01-31", "uri": "https://example.com/x",
            "email": "a@example.com", "uuid": "01a22208-b8ca-7000-9cd6-7fc622709949"}


def sample_value(schema: dict, defs: dict) -> Any:
    """A value valid under `schema` (the subset of JSON Schema pydantic writes)."""
    if "$ref" in schema:
        return sample_value(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):  # a field with a pattern names a valid example
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return sample_value(options[0], defs)
    if "allOf" in schema:
        return sample_value(schema["allOf"][0], defs)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if props:
            return {name: sample_value(sub, defs) for name, sub in props.items()}
        extra = schema.get("additionalProperties")
        return {"k": sample_value(extra, defs)} if isinstance(extra, dict) else {"k": 1}
    if kind == "array":
        return [sample_value(schema.get("items", {"type": "string"}), defs)] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1))
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 1))
        return (low + high) / 2
    if kind == "boolean":
        return True
    if kind == "string":
        text = _STRINGS.get(schema.get("format", ""), "x")
        return text * max(1, schema.get("minLength", 1))
    return "x"


def sample_data(cls: type[Event]) -> Any:
    """A valid `data` body of one event class, as JSON values."""
    schema = cls.model_fields["data"].annotation.model_json_schema()
    return sample_value(schema, schema.get("$defs", {}))


def sample_event(cls: type[Event], **envelope: Any) -> Event:
    """A valid instance of one event class: a data body generated from its schema, our usual envelope."""
    fields = dict(source="tests/conformance", subject="driftline-classifier", data=sample_data(cls))
    return cls(**(fields | envelope))


def every_event(**envelope: Any) -> list[Event]:
    return [sample_event(cls, **envelope) for cls in EVENT_TYPES.values()]
