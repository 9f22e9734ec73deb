"""Alert storms: alerts of one model and kind within the storm window fold into the open incident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from schemas import AlertRaised


@dataclass(frozen=True)
class Incident:
    incident_id: str
    model: str
    kind: str
    opened_at: datetime
    last_alert_at: datetime
    alert_count: int
    diagnosis: str | None = None  # the DiagnosisMade event JSON once made


def folds_into(open_incident: Incident | None, alert: AlertRaised, window: timedelta) -> bool:
    """Whether the alert belongs to the open incident rather than starting a new one."""
    return open_incident is not None and alert.time - open_incident.last_alert_at <= window


def _incident(row) -> Incident:
    return Incident(row["incident_id"], row["model"], row["kind"], row["opened_at"], row["last_alert_at"],
                    row["alert_count"], row["diagnosis"])


async def incident_of_alert(conn: asyncpg.Connection, alert_id: str) -> Incident | None:
    """The incident an already-handled alert was filed under (a redelivery)."""
    row = await conn.fetchrow(
        "SELECT i.* FROM agent_incidents i JOIN agent_incident_alerts a USING (incident_id) WHERE a.alert_id = $1",
        alert_id,
    )
    return _incident(row) if row else None


async def open_incident(conn: asyncpg.Connection, model: str, kind: str) -> Incident | None:
    """The open incident for a model and alert kind, locked for this transaction."""
    row = await conn.fetchrow(
        "SELECT * FROM agent_incidents WHERE model = $1 AND kind = $2 AND status = 'open' "
        "ORDER BY opened_at DESC LIMIT 1 FOR UPDATE",
        model, kind,
    )
    return _incident(row) if row else None


async def fold(conn: asyncpg.Connection, incident: Incident, alert: AlertRaised) -> None:
    await conn.execute(
        "UPDATE agent_incidents SET last_alert_at = greatest(last_alert_at, $2), alert_count = alert_count + 1 "
        "WHERE incident_id = $1",
        incident.incident_id, alert.time,
    )
    await conn.execute("INSERT INTO agent_incident_alerts VALUES ($1, $2)", alert.id, incident.incident_id)


async def open_new(conn: asyncpg.Connection, alert: AlertRaised, stale: Incident | None, diagnosis_json: str) -> None:
    """Close a stale incident of the same model and kind, open one for this alert with its diagnosis."""
    if stale is not None:
        await close(conn, stale.incident_id, "storm window passed")
    await conn.execute(
        "INSERT INTO agent_incidents (incident_id, model, kind, opened_at, last_alert_at, diagnosis) "
        "VALUES ($1, $2, $3, $4, $4, $5::jsonb)",
        alert.id, alert.data.model, alert.data.kind, alert.time, diagnosis_json,
    )
    await conn.execute("INSERT INTO agent_incident_alerts VALUES ($1, $2)", alert.id, alert.id)


async def close(conn: asyncpg.Connection, incident_id: str, reason: str) -> bool:
    """Close an incident (its alert cleared, or its repair finished); True if it was open."""
    done = await conn.fetchval(
        "UPDATE agent_incidents SET status = 'closed', closed_reason = $2 WHERE incident_id = $1 AND status = 'open' "
        "RETURNING 1",
        incident_id, reason,
    )
    return bool(done)


async def close_by_fingerprint(conn: asyncpg.Connection, model: str, kind: str, alert_id: str | None) -> None:
    """An alert cleared: close the incident it belongs to (or the open one of its model and kind)."""
    incident = await incident_of_alert(conn, alert_id) if alert_id else None
    incident = incident or await open_incident(conn, model, kind)
    if incident:
        await close(conn, incident.incident_id, "alert cleared")
