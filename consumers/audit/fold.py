"""Writing chain links into a schema: the audit log rows and the incident read model folded from them."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from consumers.audit.chain import GENESIS, Link
from consumers.audit.story import UNTOLD, tell

LOG_COLUMNS = ("seq", "event_id", "subject", "type", "time", "correlation_id", "causation_id", "actor", "story",
               "outcome", "canonical", "prev_hash", "hash")
OPENS = "driftline.alert.raised.v1"  # only an alert opens an incident; other chains (a training run) are not one
REPAIRS = frozenset({"retrain_model", "deploy_model", "rollback_model", "change_config", "clear_cache"})


def status_of(doc: dict) -> str | None:
    """Where an incident stands after this event; None: the event does not move it (a notification, a report),
    nor does an event whose fields have the wrong types (its story line says what could not be told)."""
    try:
        return _status_of(doc)
    except Exception:  # noqa: BLE001 (e.g. "action": "x" where an object belongs)
        return None


def _status_of(doc: dict) -> str | None:
    short = str(doc.get("type", "")).removeprefix("driftline.").rsplit(".v", 1)[0]
    d = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    kind = d.get("kind") or (d.get("action") or {}).get("kind")
    if short == "alert.raised":
        return "open"
    if short == "approval.requested":
        return "waiting for approval"
    if short == "approval.decided":
        return "approved" if d.get("decision") == "approve" else f"rejected by {d.get('decided_by', '?')}"
    if short == "approval.expired":
        return "expired"
    if short in ("action.scheduled", "action.started") and kind in REPAIRS:
        return "remediating"
    if short == "action.completed" and kind in REPAIRS:
        return "verifying"
    if short == "action.failed" and kind in REPAIRS:
        return "remediation failed"
    if short == "action.verified":
        if not d.get("passed"):
            return "verification failed"
        return "resolved: condition cleared" if d.get("kind") == "condition_cleared" else "resolved by verification"
    if short == "action.escalated":
        return "escalated to a person"
    return None


def _time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def log_record(link: Link) -> tuple:
    doc = link.doc
    line = tell(doc)
    return (link.seq, link.event_id, link.subject, link.type, _time(link.time), link.correlation_id,
            link.causation_id, _text(line.actor), _text(f"{line.what}: {line.why}" if line.why else line.what),
            _text(line.outcome), link.canonical, link.prev_hash, link.hash)


def _text(value: object) -> str:
    """PostgreSQL text holds no NUL character; an event's string may (JSON allows \\u0000)."""
    return str(value).replace("\x00", "\ufffd")


def incident_updates(links: list[Link]) -> list[tuple]:
    """Per correlation id in these links: (id, model, title, first, last, start, last_at, count, status or None,
    opened here). An alert opens an incident; later events of its chain only move it."""
    folded: dict[str, list] = {}
    for link in links:
        if not link.correlation_id or link.type == "invalid":
            continue
        doc = link.doc
        status, at = status_of(doc), _time(link.time)
        row = folded.get(link.correlation_id)
        if row is None:
            data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
            model = _text(data.get("model") or doc.get("subject") or "")
            folded[link.correlation_id] = [link.correlation_id, model, _text(tell(doc).what), link.seq, link.seq,
                                           at, at, 1, status, link.type == OPENS]
            continue
        row[4], row[6], row[7] = link.seq, at, row[7] + 1
        row[8] = status or row[8]
    return [tuple(r) for r in folded.values()]


async def write(conn: asyncpg.Connection, links: list[Link], schema: str = "public") -> list[int]:
    """Append the links and fold them into the incidents; call inside a transaction, in sequence order.

    Returns the sequences whose story could not be told (wrong types inside a well-formed envelope): they are
    chained and stored all the same, with outcome 'untold'."""
    if not links:
        return []
    records = [log_record(link) for link in links]
    await conn.copy_records_to_table("audit_log", schema_name=schema, columns=LOG_COLUMNS, records=records)
    updates = incident_updates(links)
    opened = [u[:9] for u in updates if u[9]]
    moved = [(u[0], u[4], u[6], u[7], u[8]) for u in updates if not u[9]]
    if opened:
        await conn.executemany(
            f"""INSERT INTO {schema}.audit_incidents AS i (correlation_id, model, title, first_seq, last_seq,
                    started_at, last_at, events, status)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE($9, 'open'))
                ON CONFLICT (correlation_id) DO UPDATE SET
                    model = CASE WHEN i.model = '' THEN EXCLUDED.model ELSE i.model END,
                    last_seq = EXCLUDED.last_seq, last_at = EXCLUDED.last_at, events = i.events + EXCLUDED.events,
                    status = COALESCE($9, i.status)""",
            opened,
        )
    if moved:  # chains that are no incident (nothing opened them) change nothing
        await conn.executemany(
            f"""UPDATE {schema}.audit_incidents SET last_seq = $2, last_at = $3, events = events + $4,
                    status = COALESCE($5, status) WHERE correlation_id = $1""",
            moved,
        )
    return [r[0] for r in records if r[9] == UNTOLD]


async def head(conn: asyncpg.Connection, schema: str = "public") -> tuple[int, str]:
    """(last sequence written, its hash); (0, genesis) for an empty log."""
    row = await conn.fetchrow(f"SELECT seq, hash FROM {schema}.audit_log ORDER BY seq DESC LIMIT 1")
    return (row["seq"], row["hash"]) if row else (0, GENESIS)

