"""scale_service: set the desired replicas of a local service (`driftline up` applies it)."""

from __future__ import annotations

from agent.actions.base import ActionContext, ActionResult
from infra import scale


async def scale_service(ctx: ActionContext) -> ActionResult:
    """Setting a desired count is naturally idempotent: a rerun sets the same number."""
    service = ctx.action.params.get("service", "worker")
    replicas = int(ctx.action.params["replicas"])
    async with ctx.pool.acquire() as conn:
        before = await scale.set_replicas(conn, service, replicas, by=f"agent:{ctx.action.action_id}")
    result = ActionResult(summary=f"{service} scaled to {replicas} replica(s)", result={"service": service,
                          "replicas": replicas}, metrics_after={"replicas": replicas})
    if before is not None:
        result.metrics_before["replicas"] = before
    return result
