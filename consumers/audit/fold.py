"""Writing chain links into a schema: the audit log rows and the incident read model folded from them."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from consumers.audit.chain import GENESIS, Link
from consumers.audit.story import tell

LOG_COLUMNS = ("seq", "event_id", "subject", "type", "time", "correlation_id", "causation_id", "actor", "story",
               "outcome", "canonical", "prev_hash", "hash")
# Periodic or bookkeeping events are not incidents.
NOT_INCIDENTS = ("driftline.audit.", "driftline.monitoring.drift_report")
STATUS = {"completed": "resolved", "failed": "failed", "escalated": "escalated", "rejected": "rejected",
          "pending": "awaiting approval", "approved": "approved", "scheduled": "in progress", "running": "in progress",
          "expired": "expired", "alert": "open"}


def _time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def log_record(link: Link) -> tuple:
    doc = link.doc
    line = tell(doc)
    return (link.seq, link.event_id, link.subject, link.type, _time(link.time), link.correlation_id,
            link.causation_id, str(line.actor), f"{line.what}: {line.why}" if line.why else line.what,
            line.outcome, link.canonical, link.prev_hash, link.hash)


def incident_updates(links: list[Link]) -> list[tuple]:
    """Per correlation id in these links: (id, model, title, first, last, start, last_at, count, status or None)."""
    folded: dict[str, list] = {}
    for link in links:
        if not link.correlation_id or link.type.startswith(NOT_INCIDENTS) or link.type == "invalid":
            continue
        doc = link.doc
        data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
        line = tell(doc)
        at = _time(link.time)
        status = STATUS.get(line.outcome)
        row = folded.get(link.correlation_id)
        if row is None:
            model = str(data.get("model") or doc.get("subject") or "")
            folded[link.correlation_id] = [link.correlation_id, model, line.what, link.seq, link.seq, at, at, 1, status]
            continue
        row[4], row[6], row[7] = link.seq, at, row[7] + 1
        row[8] = status or row[8]
    return [tuple(r) for r in folded.values()]


async def write(conn: asyncpg.Connection, links: list[Link], schema: str = "public") -> None:
    """Append the links and fold them into the incidents; call inside a transaction, in sequence order."""
    if not links:
        return
    await conn.copy_records_to_table("audit_log", schema_name=schema, columns=LOG_COLUMNS,
                                     records=[log_record(link) for link in links])
    updates = incident_updates(links)
    if updates:
        await conn.executemany(
            f"""INSERT INTO {schema}.audit_incidents AS i (correlation_id, model, title, first_seq, last_seq,
                    started_at, last_at, events, status)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE($9, 'open'))
                ON CONFLICT (correlation_id) DO UPDATE SET
                    model = CASE WHEN i.model = '' THEN EXCLUDED.model ELSE i.model END,
                    last_seq = EXCLUDED.last_seq, last_at = EXCLUDED.last_at, events = i.events + EXCLUDED.events,
                    status = COALESCE($9, i.status)""",
            updates,
        )


async def head(conn: asyncpg.Connection, schema: str = "public") -> tuple[int, str]:
    """(last sequence written, its hash); (0, genesis) for an empty log."""
    row = await conn.fetchrow(f"SELECT seq, hash FROM {schema}.audit_log ORDER BY seq DESC LIMIT 1")
    return (row["seq"], row["hash"]) if row else (0, GENESIS)

