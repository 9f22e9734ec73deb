"""The monitor's PostgreSQL state: detector state per model with the stream sequence it covers, and the
predictions waiting for their late labels (tables of infra/migrations/030_monitor_state.sql, 031_monitor_scores.sql)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from schemas import LabelReceived, PredictionMade


async def fetch_state(pool: asyncpg.Pool, model: str) -> tuple[int, dict] | None:
    """(last stream sequence, saved state) of a model, or None for a first start."""
    row = await pool.fetchrow("SELECT last_seq, state FROM monitor_state WHERE model = $1", model)
    return (row["last_seq"], json.loads(row["state"])) if row else None


async def save_state(pool: asyncpg.Pool, model: str, version: str, seq: int, state: dict,
                     joined: Sequence[str] = (), also: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
                     ) -> None:
    """Save the state covering stream sequence `seq`, and drop the predictions whose labels were scored, at once
    (`also`: more of the same batch's writes, e.g. the shadow tests, in the same transaction)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO monitor_state (model, version, last_seq, state, updated_at) VALUES ($1, $2, $3, $4, now()) "
            "ON CONFLICT (model) DO UPDATE SET version = $2, last_seq = $3, state = $4, updated_at = now()",
            model, version, seq, json.dumps(state))
        if joined:
            await conn.execute("DELETE FROM monitor_predictions WHERE model = $1 AND request_id = ANY($2)",
                               model, list(joined))
        if also is not None:
            await also(conn)


async def remember_and_join(pool: asyncpg.Pool, model: str, preds: Sequence[PredictionMade],
                            labels: Sequence[LabelReceived],
                            score: Callable[[PredictionMade], float | None] = lambda p: None,
                            ) -> dict[str, tuple[str, float | None, str | None]]:
    """Keep the predicted class, `score` and serving version of each prediction; return request id -> (predicted
    class, score, version) for these labels."""
    async with pool.acquire() as conn:
        if preds:
            await conn.executemany(
                "INSERT INTO monitor_predictions (model, request_id, predicted_class, made_at, score, model_version) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                [(model, p.data.request_id, str(p.data.predicted_class), p.time, score(p), p.data.model_version)
                 for p in preds])
        if not labels:
            return {}
        rows = await conn.fetch("SELECT request_id, predicted_class, score, model_version FROM monitor_predictions "
                                "WHERE model = $1 AND request_id = ANY($2)", model, [lb.data.request_id for lb in labels])
    return {r["request_id"]: (r["predicted_class"], r["score"], r["model_version"]) for r in rows}


async def prune(pool: asyncpg.Pool, older_than_s: float) -> int:
    """Forget predictions whose label never came."""
    done = await pool.execute("DELETE FROM monitor_predictions WHERE made_at < now() - make_interval(secs => $1)",
                              older_than_s)
    return int(done.split()[-1])
