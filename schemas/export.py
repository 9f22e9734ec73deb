"""JSON Schema of every event type (the AsyncAPI document is rendered by the composition root, which knows
who consumes what)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.registry import EVENT_TYPES


def event_schemas() -> dict[str, dict[str, Any]]:
    """Event type -> its JSON Schema."""
    return {etype: cls.model_json_schema() for etype, cls in sorted(EVENT_TYPES.items())}


def export(directory: Path) -> list[Path]:
    """Write <type>.schema.json for each event type; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for etype, schema in event_schemas().items():
        path = directory / f"{etype}.schema.json"
        path.write_text(json.dumps(schema, indent=2) + "\n")
        written.append(path)
    return written
