"""deploy_model and rollback_model: move the champion alias in the MLflow registry."""

from __future__ import annotations

import asyncio
import json

from agent.actions.base import ActionContext, ActionResult
from infra.models import CHAMPION, champion_version, configure_mlflow
from infra.stream_reader import read_stream
from schemas import ModelPromoted, ModelRolledBack, parse_event
from schemas.model import Promotion, Rollback
from schemas.streams import AUDIT

PLAN_TAG = "driftline.action.{}"  # registered-model tag: the move an action decided on, kept before it is made


def _registry(ctx: ActionContext):
    from mlflow import MlflowClient

    configure_mlflow(ctx.settings)
    return MlflowClient()


def _current(ctx: ActionContext) -> str | None:
    mv = champion_version(ctx.settings, CHAMPION)
    return str(mv.version) if mv else None


async def deploy_model(ctx: ActionContext) -> ActionResult:
    """Point champion at params.version (an alias move is naturally idempotent)."""
    version = str(ctx.action.params["version"])
    client = await asyncio.to_thread(_registry, ctx)
    name = ctx.settings.model_name
    await asyncio.to_thread(client.get_model_version, name, version)  # raises if there is no such version
    before = await asyncio.to_thread(_current, ctx)
    await asyncio.to_thread(client.set_registered_model_alias, name, CHAMPION, version)
    promoted = ctx.derived(ModelPromoted, Promotion(model=name, version=version, previous_version=before,
                                                    reason=f"deployed by action {ctx.action.action_id}"))
    return ActionResult(summary=f"champion is version {version} (was {before})", result={"version": version,
                        "previous_version": before}, metrics_before=_v(before), metrics_after=_v(version),
                        events=[promoted])


async def previous_champion(ctx: ActionContext, current: str) -> str | None:
    """The version that was champion before `current`, from the ModelPromoted history in AUDIT."""
    previous = None
    async for msg in read_stream(ctx.bus.js, AUDIT.name, subjects=(ModelPromoted.topic,)):
        event = parse_event(msg.data)
        if event.data.promoted and event.data.version == current and event.data.previous_version:
            previous = event.data.previous_version
    return previous


async def rollback_model(ctx: ActionContext) -> ActionResult:
    """Move champion back to params.to_version or the previous champion; the planned move is tagged first."""
    client = await asyncio.to_thread(_registry, ctx)
    name, tag = ctx.settings.model_name, PLAN_TAG.format(ctx.action.action_id)
    model = await asyncio.to_thread(client.get_registered_model, name)
    if tag in model.tags:  # an earlier attempt decided the move: repeat exactly that move, not one more step back
        move = json.loads(model.tags[tag])
    else:
        current = await asyncio.to_thread(_current, ctx)
        if current is None:
            raise RuntimeError(f"{name} has no champion to roll back")
        target = ctx.action.params.get("to_version") or await previous_champion(ctx, current)
        if target is None:
            older = [int(v.version) for v in await asyncio.to_thread(client.search_model_versions, f"name='{name}'")
                     if int(v.version) < int(current)]
            target = str(max(older)) if older else None
        if target is None:
            raise RuntimeError(f"no earlier version of {name} to roll back to from version {current}")
        move = {"from": current, "to": str(target)}
        await asyncio.to_thread(client.set_registered_model_tag, name, tag, json.dumps(move))
    await asyncio.to_thread(client.set_registered_model_alias, name, CHAMPION, move["to"])
    event = ctx.derived(ModelRolledBack, Rollback(model=name, from_version=move["from"], to_version=move["to"],
                                                  reason=ctx.action.reason or f"action {ctx.action.action_id}"))
    return ActionResult(summary=f"champion rolled back from version {move['from']} to {move['to']}", result=move,
                        metrics_before=_v(move["from"]), metrics_after=_v(move["to"]), events=[event])


def _v(version: str | None) -> dict[str, float]:
    return {"champion_version": float(version)} if version and version.isdigit() else {}
