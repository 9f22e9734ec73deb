"""What the pages read: the approvals read model, the audit log (events as the stream recorded them), and the
monitor's shadow tests."""

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
    """The chain's events in order, each with its stored story and the event itself (`doc`)."""
    rows = await conn.fetch(
        "SELECT seq, time, type, actor, story, outcome, event_id, canonical FROM audit_log WHERE correlation_id = $1 "
        "ORDER BY seq", correlation_id)
    return [{**dict(r), "canonical": None, "doc": _doc(r)} for r in rows]


# An incident as the page lists it: only chains an alert opened (a training run's chain is none, even in a read
# model folded before that rule), with the alert, the latest diagnosis, and the last event that decided its state.
VERDICTS = ("driftline.action.verified.v1", "driftline.approval.decided.v1", "driftline.approval.expired.v1",
            "driftline.action.escalated.v1")
_INCIDENTS = f"""
    SELECT i.*, a.canonical AS alert, d.canonical AS diagnosis, v.canonical AS last_word
    FROM audit_incidents i
    JOIN LATERAL (SELECT canonical FROM audit_log WHERE correlation_id = i.correlation_id
                  AND type = 'driftline.alert.raised.v1' ORDER BY seq LIMIT 1) a ON true
    LEFT JOIN LATERAL (SELECT canonical FROM audit_log WHERE correlation_id = i.correlation_id AND type = '{DIAGNOSIS}'
                       ORDER BY seq DESC LIMIT 1) d ON true
    LEFT JOIN LATERAL (SELECT canonical FROM audit_log WHERE correlation_id = i.correlation_id
                       AND type = ANY($2::text[]) ORDER BY seq DESC LIMIT 1) v ON true"""


def _incident_row(record) -> dict:
    row = dict(record)  # an asyncpg Record iterates over its values, not its keys
    for key in ("alert", "diagnosis", "last_word"):
        row[key] = json.loads(record[key]) if record[key] else None
    return row


async def incident(conn: asyncpg.Connection, correlation_id: str) -> dict | None:
    row = await conn.fetchrow(_INCIDENTS + " WHERE i.correlation_id = $1", correlation_id, list(VERDICTS))
    return _incident_row(row) if row else None


async def incidents(conn: asyncpg.Connection, limit: int = 100) -> list[dict]:
    rows = await conn.fetch(_INCIDENTS + " ORDER BY i.last_seq DESC LIMIT $1", limit, list(VERDICTS))
    return [_incident_row(r) for r in rows]


async def model_events(conn: asyncpg.Connection) -> list[dict]:
    """Trained, promoted and rolled-back events in stream order, each as {type, time, data}."""
    rows = await conn.fetch("SELECT canonical FROM audit_log WHERE type = ANY($1::text[]) ORDER BY seq",
                            list(MODEL_TYPES))
    return [{"type": d["type"], "time": d.get("time"), "data": d["data"], "id": d.get("id"),
             "correlation_id": d.get("correlationid") or d.get("correlation_id")} for d in map(_doc, rows)]


async def shadow_tests(conn: asyncpg.Connection, model: str, limit: int = 10) -> list[dict]:
    """The latest shadow tests of a model (the monitor's tables), each with its course (one point per batch)."""
    tests = await conn.fetch(
        "SELECT challenger_version, champion_version, alias, state, decision, decision_event_id, updated_at "
        "FROM shadow_tests WHERE model = $1 ORDER BY updated_at DESC LIMIT $2", model, limit)
    out = []
    for t in tests:
        points = await conn.fetch(
            "SELECT pairs, difference, lower_bound, upper_bound, statistic, threshold FROM shadow_test_points "
            "WHERE model = $1 AND challenger_version = $2 AND champion_version = $3 ORDER BY pairs",
            model, t["challenger_version"], t["champion_version"])
        out.append({**{k: t[k] for k in ("challenger_version", "champion_version", "alias", "decision",
                                         "decision_event_id")},
                    "state": json.loads(t["state"]), "updated_at": t["updated_at"], "points": [dict(p) for p in points]})
    return out


CONFIG_CHANGED = "driftline.config.changed.v1"


async def config_changes(conn: asyncpg.Connection, limit: int = 200) -> list[dict]:
    """Runtime configuration versions, newest first, each as the event's data with its time."""
    rows = await conn.fetch("SELECT canonical FROM audit_log WHERE type = $1 ORDER BY seq DESC LIMIT $2",
                            CONFIG_CHANGED, limit)
    return [d["data"] | {"time": d.get("time")} for d in map(_doc, rows)]
