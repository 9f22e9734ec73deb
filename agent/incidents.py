"""The diagnoser's tables: incidents with their state, the alerts filed under them, and what it knows of each
model. The only writer of agent_incidents, agent_incident_alerts and agent_models."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from agent.evidence import RECENT_WINDOWS
from agent.incident_state import IncidentState, ModelFacts


async def seen_alert(conn: asyncpg.Connection, alert_id: str) -> bool:
    """Whether an alert was already filed (a redelivery)."""
    return bool(await conn.fetchval("SELECT 1 FROM agent_incident_alerts WHERE alert_id = $1", alert_id))


async def open_incident(conn: asyncpg.Connection, model: str, family: str) -> IncidentState | None:
    """The unresolved incident of a model and family, locked for this transaction."""
    row = await conn.fetchrow(
        "SELECT state FROM agent_incidents WHERE model = $1 AND family = $2 AND status = 'open' AND state IS NOT NULL "
        "ORDER BY opened_at DESC LIMIT 1 FOR UPDATE", model, family)
    return IncidentState.from_json(json.loads(row["state"])) if row else None


async def incident(conn: asyncpg.Connection, incident_id: str) -> IncidentState | None:
    """An incident by id (its correlation id), locked; None if unknown or resolved."""
    row = await conn.fetchrow(
        "SELECT state FROM agent_incidents WHERE incident_id = $1 AND status = 'open' AND state IS NOT NULL FOR UPDATE",
        incident_id)
    return IncidentState.from_json(json.loads(row["state"])) if row else None


async def open_new(conn: asyncpg.Connection, state: IncidentState) -> None:
    await conn.execute(
        "INSERT INTO agent_incidents (incident_id, model, kind, opened_at, last_alert_at, family, phase, state) "
        "VALUES ($1, $2, $3, $4, $4, $5, $6, $7::jsonb)",
        state.incident_id, state.model, state.kinds[0], state.opened_at, state.family, state.phase,
        json.dumps(state.to_json()))
    await file_alert(conn, state.incident_id, state.incident_id)


async def file_alert(conn: asyncpg.Connection, alert_id: str, incident_id: str) -> None:
    await conn.execute("INSERT INTO agent_incident_alerts VALUES ($1, $2) ON CONFLICT DO NOTHING", alert_id,
                       incident_id)


async def save(conn: asyncpg.Connection, state: IncidentState, at: datetime | None = None) -> None:
    """Write the state back; a resolved incident is closed (the next alert opens a new one)."""
    resolved = state.phase == "resolved"
    await conn.execute(
        "UPDATE agent_incidents SET state = $2::jsonb, phase = $3, status = $4, alert_count = $5, "
        "last_alert_at = greatest(last_alert_at, coalesce($6, last_alert_at)), "
        "closed_reason = CASE WHEN $4 = 'closed' THEN 'verified' ELSE closed_reason END WHERE incident_id = $1",
        state.incident_id, json.dumps(state.to_json()), state.phase, "closed" if resolved else "open",
        len(state.alert_ids), at)


async def facts(conn: asyncpg.Connection, model: str) -> ModelFacts:
    row = await conn.fetchrow("SELECT champion, previous, promoted_at FROM agent_models WHERE model = $1", model)
    return ModelFacts(row["champion"], row["previous"], row["promoted_at"]) if row else ModelFacts()


async def record_champion(conn: asyncpg.Connection, model: str, champion: str, previous: str | None,
                          at: datetime) -> None:
    await conn.execute(
        "INSERT INTO agent_models (model, champion, previous, promoted_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (model) DO UPDATE SET champion = $2, previous = $3, promoted_at = $4, updated_at = now()",
        model, champion, previous, at)


async def push_report(conn: asyncpg.Connection, model: str, report: dict) -> None:
    """Keep the model's last few window reports (a new incident starts from them)."""
    await conn.execute(
        "INSERT INTO agent_models (model, recent) VALUES ($1, jsonb_build_array($2::jsonb)) "
        "ON CONFLICT (model) DO UPDATE SET recent = (SELECT coalesce(jsonb_agg(r ORDER BY n), '[]'::jsonb) FROM "
        "(SELECT r, n FROM jsonb_array_elements(agent_models.recent || jsonb_build_array($2::jsonb)) "
        "WITH ORDINALITY AS t(r, n) ORDER BY n DESC LIMIT $3) last), updated_at = now()",
        model, json.dumps(report), RECENT_WINDOWS)


async def recent_reports(conn: asyncpg.Connection, model: str) -> list[dict]:
    raw = await conn.fetchval("SELECT recent FROM agent_models WHERE model = $1", model)
    return json.loads(raw) if raw else []
