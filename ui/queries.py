"""What the pages read: the approvals read model and the audit log (events as the stream recorded them)."""

from __future__ import annotations

import json

import asyncpg

DRIFT = "driftline.monitoring.drift_report.v1"
DIAGNOSIS = "driftline.diagnosis.made.v1"
MODEL_TYPES = ("driftline.model.trained.v1", "driftline.model.promoted.v1", "driftline.model.rolled_back.v1")


def _doc(row) -> dict:
    return json.loads(row["canonical"])


def approval_row(record) -> dict:
    """An approvals row with its JSON columns decoded."""
    row = dict(record)
    for key in ("action", "evidence"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


async def approval(conn: asyncpg.Connection, approval_id: str) -> dict | None:
    """One request with its JSON columns decoded, or None."""
    row = await conn.fetchrow("SELECT * FROM approvals WHERE approval_id = $1", approval_id[:80])
    return approval_row(row) if row else None


async def pending_marker(conn: asyncpg.Connection) -> tuple[int, str]:
    """(pending count, a marker that changes whenever the pending set changes)."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(string_agg(approval_id, ',' ORDER BY approval_id), '') AS ids "
        "FROM approvals WHERE status = 'pending' AND expires_at > now()")
    return row["n"], row["ids"]


async def pending(conn: asyncpg.Connection) -> list[dict]:
    rows = await conn.fetch(
        "SELECT * FROM approvals WHERE status = 'pending' AND expires_at > now() ORDER BY requested_at DESC")
    return [approval_row(r) for r in rows]


async def history(conn: asyncpg.Connection, limit: int = 200) -> list[dict]:
    rows = await conn.fetch(
        "SELECT * FROM approvals WHERE status <> 'pending' OR expires_at <= now() "
        "ORDER BY coalesce(decided_at, expires_at) DESC LIMIT $1", limit)
    return [approval_row(r) for r in rows]


async def diagnosis_for(conn: asyncpg.Connection, row: dict) -> dict | None:
    """The diagnosis behind a request: the one it names, else the latest of its incident."""
    found = None
    if row.get("diagnosis_id"):
        found = await conn.fetchrow("SELECT canonical FROM audit_log WHERE event_id = $1 AND type = $2",
                                    row["diagnosis_id"], DIAGNOSIS)
    if found is None:
        found = await conn.fetchrow(
            "SELECT canonical FROM audit_log WHERE correlation_id = $1 AND type = $2 ORDER BY seq DESC LIMIT 1",
            row["correlation_id"], DIAGNOSIS)
    return _doc(found)["data"] if found else None


async def drift_reports(conn: asyncpg.Connection, model: str | None = None, limit: int = 40) -> list[dict]:
    """The latest drift window reports (oldest first), of one model or all."""
    rows = await conn.fetch(
        "SELECT canonical FROM audit_log WHERE type = $1 AND ($2::text IS NULL OR "
        "(canonical::jsonb #>> '{data,model}') = $2) ORDER BY seq DESC LIMIT $3", DRIFT, model, limit)
    return [_doc(r)["data"] | {"_time": _doc(r).get("time")} for r in reversed(rows)]


async def timeline(conn: asyncpg.Connection, correlation_id: str) -> list[dict]:
    rows = await conn.fetch(
        "SELECT seq, time, type, actor, story, outcome, event_id FROM audit_log WHERE correlation_id = $1 "
        "ORDER BY seq", correlation_id)
    return [dict(r) for r in rows]


async def incident(conn: asyncpg.Connection, correlation_id: str) -> dict | None:
    row = await conn.fetchrow("SELECT * FROM audit_incidents WHERE correlation_id = $1", correlation_id)
    return dict(row) if row else None


async def incidents(conn: asyncpg.Connection, limit: int = 100) -> list[dict]:
    rows = await conn.fetch("SELECT * FROM audit_incidents ORDER BY last_seq DESC LIMIT $1", limit)
    return [dict(r) for r in rows]


async def model_events(conn: asyncpg.Connection) -> list[dict]:
    """Trained, promoted and rolled-back events in stream order, each as {type, time, data}."""
    rows = await conn.fetch("SELECT canonical FROM audit_log WHERE type = ANY($1::text[]) ORDER BY seq",
                            list(MODEL_TYPES))
    return [{"type": d["type"], "time": d.get("time"), "data": d["data"]} for d in map(_doc, rows)]


CONFIG_CHANGED = "driftline.config.changed.v1"


async def config_changes(conn: asyncpg.Connection, limit: int = 200) -> list[dict]:
    """Runtime configuration versions, newest first, each as the event's data with its time."""
    rows = await conn.fetch("SELECT canonical FROM audit_log WHERE type = $1 ORDER BY seq DESC LIMIT $2",
                            CONFIG_CHANGED, limit)
    return [d["data"] | {"time": d.get("time")} for d in map(_doc, rows)]
