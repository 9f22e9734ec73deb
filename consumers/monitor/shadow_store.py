"""The shadow test's PostgreSQL state (tables of infra/migrations/080_shadow_tests.sql; the monitor is their one
writer): challengers' answers waiting for labels, each test's state, and its course for the page."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import asyncpg

from consumers.monitor.sequential import ShadowTest
from consumers.monitor.shadow_pairs import Key, Running, Shadow
from schemas import PredictionShadowed


async def remember(conn: asyncpg.Connection, model: str, shadows: Sequence[PredictionShadowed]) -> None:
    if shadows:
        await conn.executemany(
            "INSERT INTO shadow_predictions (model, request_id, challenger_version, champion_version, alias, "
            "predicted_class, made_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            [(model, s.data.request_id, s.data.challenger_version, s.data.champion_version, s.data.alias,
              str(s.data.predicted_class), s.time) for s in shadows])


async def waiting(conn: asyncpg.Connection, model: str, request_ids: Sequence[str]) -> dict[str, list[Shadow]]:
    """Request id -> the challengers' answers to it."""
    rows = await conn.fetch("SELECT request_id, challenger_version, champion_version, alias, predicted_class "
                            "FROM shadow_predictions WHERE model = $1 AND request_id = ANY($2) "
                            "ORDER BY challenger_version", model, list(request_ids))
    out: dict[str, list[Shadow]] = {}
    for r in rows:
        out.setdefault(r["request_id"], []).append(
            Shadow(r["challenger_version"], r["champion_version"], r["alias"], r["predicted_class"]))
    return out


async def tests(conn: asyncpg.Connection, model: str, keys: Iterable[Key]) -> dict[Key, Running]:
    keys = list(keys)
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT challenger_version, champion_version, alias, state, decision_event_id FROM shadow_tests "
        "WHERE model = $1 AND (challenger_version, champion_version) IN (SELECT * FROM unnest($2::text[], $3::text[]))",
        model, [k[0] for k in keys], [k[1] for k in keys])
    return {(r["challenger_version"], r["champion_version"]): Running(
        r["alias"], ShadowTest.from_dict(json.loads(r["state"])), r["decision_event_id"]) for r in rows}


async def save(conn: asyncpg.Connection, model: str, changed: dict[Key, Running], points: Sequence[tuple[Key, dict]],
               joined: Sequence[str]) -> None:
    """Tests, their new points, and the answers their labels consumed: in the caller's transaction."""
    for (challenger, champion), running in changed.items():
        await conn.execute(
            "INSERT INTO shadow_tests (model, challenger_version, champion_version, alias, state, decision, "
            "decision_event_id) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (model, challenger_version, "
            "champion_version) DO UPDATE SET state = $5, decision = $6, decision_event_id = $7, updated_at = now()",
            model, challenger, champion, running.alias, json.dumps(running.test.to_dict()), running.test.decision,
            running.decision_event_id)
    if points:
        await conn.executemany(
            "INSERT INTO shadow_test_points (model, challenger_version, champion_version, pairs, difference, "
            "lower_bound, upper_bound, statistic, threshold) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT DO NOTHING",
            [(model, k[0], k[1], s["pairs"], s["difference"], s["difference_lower"], s["difference_upper"],
              s["statistic"], s["threshold"]) for k, s in points])
    if joined:
        await conn.execute("DELETE FROM shadow_predictions WHERE model = $1 AND request_id = ANY($2)", model,
                           list(joined))


async def prune(pool: asyncpg.Pool, older_than_s: float) -> int:
    """Forget challengers' answers whose label never came."""
    done = await pool.execute("DELETE FROM shadow_predictions WHERE made_at < now() - make_interval(secs => $1)",
                              older_than_s)
    return int(done.split()[-1])
