"""JSON Schema of every event type and the AsyncAPI 3.0 document of the bus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.registry import EVENT_TYPES
from schemas.streams import ALL_STREAMS, DLQ_PREFIX, stream_for


def event_schemas() -> dict[str, dict[str, Any]]:
    """Event type -> its JSON Schema."""
    return {etype: cls.model_json_schema() for etype, cls in sorted(EVENT_TYPES.items())}


def asyncapi_document() -> dict[str, Any]:
    """An AsyncAPI 3.0 document: one channel per subject, one message per event type."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for etype, cls in sorted(EVENT_TYPES.items()):
        name = cls.__name__
        channel = cls.topic.replace(".", "_")
        messages[name] = {
            "name": etype,
            "title": name,
            "summary": (cls.__doc__ or "").strip(),
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {"Nats-Msg-Id": {"type": "string", "description": "The event id; JetStream dedupe key."}},
            },
            "payload": cls.model_json_schema(),
        }
        channels[channel] = {
            "address": cls.topic,
            "description": f"Stored in stream {stream_for(cls.topic).name}.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
        }
    channels["dlq"] = {
        "address": f"{DLQ_PREFIX}.{{consumer}}",
        "description": "Raw bytes of poison messages; headers Driftline-Error, Driftline-Origin.",
        "parameters": {"consumer": {"description": "Durable name of the consumer that gave up."}},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Driftline bus",
            "version": "1.0.0",
            "description": "Typed CloudEvents on NATS JetStream. Streams: "
            + "; ".join(f"{s.name} ({', '.join(s.subjects)})" for s in ALL_STREAMS),
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:4222", "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def export(directory: Path) -> list[Path]:
    """Write <type>.schema.json for each event type and asyncapi.json; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for etype, schema in event_schemas().items():
        path = directory / f"{etype}.schema.json"
        path.write_text(json.dumps(schema, indent=2) + "\n")
        written.append(path)
    path = directory / "asyncapi.json"
    path.write_text(json.dumps(asyncapi_document(), indent=2) + "\n")
    written.append(path)
    return written
