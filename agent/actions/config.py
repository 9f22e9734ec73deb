"""change_config: apply a new configuration version (the latest merged with the action's `config`)."""

from __future__ import annotations

import json

from agent.actions.base import ActionContext, ActionResult


async def change_config(ctx: ActionContext) -> ActionResult:
    """Insert one version per action id: a rerun finds its own version and applies nothing new."""
    changes = ctx.action.params.get("config", {})
    if not isinstance(changes, dict) or not changes:
        raise ValueError("change_config needs params.config, a non-empty mapping")
    async with ctx.pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE agent_config_versions IN SHARE ROW EXCLUSIVE MODE")
        mine = await conn.fetchrow("SELECT version FROM agent_config_versions WHERE action_id = $1",
                                   ctx.action.action_id)
        latest = await conn.fetchrow("SELECT version, config FROM agent_config_versions ORDER BY version DESC LIMIT 1")
        before = latest["version"] if latest else 0
        if mine:
            return ActionResult(summary=f"configuration version {mine['version']} was already applied",
                                result={"version": mine["version"], "reused": True},
                                metrics_after={"config_version": mine["version"]})
        config = {**(json.loads(latest["config"]) if latest else {}), **changes}
        version = await conn.fetchval(
            "INSERT INTO agent_config_versions (config, applied_by, action_id) VALUES ($1::jsonb, $2, $3) "
            "RETURNING version",
            json.dumps(config), ctx.scheduled.data.approved_by, ctx.action.action_id)
    return ActionResult(summary=f"applied configuration version {version}", result={"version": version,
                        "config": config}, metrics_before={"config_version": before},
                        metrics_after={"config_version": version})


async def current_config(conn) -> tuple[int, dict]:
    """The applied configuration version and its content ((0, {}) before any)."""
    row = await conn.fetchrow("SELECT version, config FROM agent_config_versions ORDER BY version DESC LIMIT 1")
    return (row["version"], json.loads(row["config"])) if row else (0, {})
