"""scale_service: set the desired replicas of a local service; `driftline up` applies it. Elsewhere (compose,
Render, Kubernetes) the orchestrator owns the replicas, and the outcome says so instead of claiming success."""

from __future__ import annotations

from agent.actions.base import ActionContext, ActionResult
from infra import scale


class NotApplicable(RuntimeError):
    """The action has no effect where the services run."""


async def scale_service(ctx: ActionContext) -> ActionResult:
    """Setting a desired count is naturally idempotent: a rerun sets the same number."""
    service = ctx.action.params.get("service", "worker")
    replicas = int(ctx.action.params["replicas"])
    if ctx.settings.supervisor != "up":
        raise NotApplicable(f"scale_service applies where `driftline up` supervises the services; here "
                            f"(DRIFTLINE_SUPERVISOR={ctx.settings.supervisor}) scale {service} to {replicas} "
                            "with the orchestrator (docker compose up --scale, Render's dashboard)")
    async with ctx.pool.acquire() as conn:
        before = await scale.set_replicas(conn, service, replicas, by=f"agent:{ctx.action.action_id}")
    result = ActionResult(summary=f"{service} scaled to {replicas} replica(s) by driftline up",
                          result={"service": service, "replicas": replicas, "applied_by": "driftline up"},
                          metrics_after={"replicas": replicas})
    if before is not None:
        result.metrics_before["replicas"] = before
    return result
