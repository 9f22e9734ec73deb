"""clear_cache: every gateway, worker and monitor drops the model it holds and loads the champion again from the
registry (a model whose files were repaired, or a process whose loaded state is suspect)."""

from __future__ import annotations

import asyncio

from agent.actions.base import ActionContext, ActionResult
from infra.models import CHAMPION, champion_version, configure_mlflow
from schemas import ModelReloadRequested
from schemas.model import Reload


def _champion(ctx: ActionContext) -> str | None:
    configure_mlflow(ctx.settings)
    mv = champion_version(ctx.settings, CHAMPION)
    return str(mv.version) if mv else None


async def clear_cache(ctx: ActionContext) -> ActionResult:
    """Ask every serving process to reload (one event; each process follows it, counted in
    driftline_model_reloads_total); a rerun asks again, which is harmless."""
    a = ctx.action
    version = await asyncio.to_thread(_champion, ctx)
    if version is None:
        raise RuntimeError(f"{a.model} has no champion to reload")
    request = ctx.derived(ModelReloadRequested, Reload(model=a.model, version=version,
                                                       reason=a.reason or f"action {a.action_id}"))
    return ActionResult(summary=f"every gateway, worker and monitor reloads {a.model} version {version} from the "
                                "registry", result={"version": version, "reload_event": request.id}, events=[request])
