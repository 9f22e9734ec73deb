"""change_config: a new runtime configuration version, announced as driftline.config.changed for the services that
own its keys (schemas/config.py) to apply while they run.

Every key is checked against the contract before anything is written: one bad value refuses the whole change, so
no service applies half of it. The version row (agent_config_versions, this action's own table) is written once
per action id; a rerun re-announces the same version with the same event id.
"""

from __future__ import annotations

import json

from agent.actions.base import ActionContext, ActionResult
from schemas.config import OWNERS, Change, ConfigChange, ConfigChanged, checked


def _owner(key: str) -> str:
    return next(service for service, keys in OWNERS.items() if key in keys)


def announce(ctx: ActionContext, version: int, before: dict, after: dict, keys: list[str]) -> ConfigChanged:
    """The event of one version: what changed (old -> new; a key never changed before shows the executor's own
    setting as its old value), the whole configuration, and who approved it."""
    s = ctx.scheduled.data
    changes = [Change(key=k, old=before.get(k, getattr(ctx.settings, k, None)), new=after[k], owner=_owner(k))
               for k in keys]
    return ctx.derived(ConfigChanged, ConfigChange(
        version=version, changes=changes, config=after, approved_by=s.approved_by, approval_id=s.approval_id,
        action_id=ctx.action.action_id, reason=ctx.action.reason))


async def change_config(ctx: ActionContext) -> ActionResult:
    """Validate, insert one version per action id, and announce it (a rerun re-announces the same version)."""
    changes = checked(ctx.action.params.get("config"))  # ConfigRefused names each bad key: the action fails
    async with ctx.pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE agent_config_versions IN SHARE ROW EXCLUSIVE MODE")
        mine = await conn.fetchrow("SELECT version, config FROM agent_config_versions WHERE action_id = $1",
                                   ctx.action.action_id)
        below = mine["version"] if mine else 2**31 - 1
        latest = await conn.fetchrow("SELECT version, config FROM agent_config_versions WHERE version < $1 "
                                     "ORDER BY version DESC LIMIT 1", below)
        before = json.loads(latest["config"]) if latest else {}
        if mine:
            version, config = mine["version"], json.loads(mine["config"])
        else:
            config = {**before, **changes}
            version = await conn.fetchval(
                "INSERT INTO agent_config_versions (config, applied_by, action_id) VALUES ($1::jsonb, $2, $3) "
                "RETURNING version", json.dumps(config), ctx.scheduled.data.approved_by, ctx.action.action_id)
    event = announce(ctx, version, before, config, sorted(changes))
    words = ", ".join(f"{c.key} {c.old} -> {c.new}" for c in event.data.changes)
    again = " was already applied" if mine else ""
    return ActionResult(summary=f"configuration version {version}{again}: {words}",
                        result={"version": version, "config": config, "reused": mine is not None},
                        metrics_before={"config_version": latest["version"] if latest else 0},
                        metrics_after={"config_version": version}, events=[event])


async def current_config(conn) -> tuple[int, dict]:
    """The applied configuration version and its content ((0, {}) before any)."""
    row = await conn.fetchrow("SELECT version, config FROM agent_config_versions ORDER BY version DESC LIMIT 1")
    return (row["version"], json.loads(row["config"])) if row else (0, {})
