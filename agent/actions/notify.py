"""log_error and send_alert: a structured log line, and a completion the notifier turns into a message."""

from __future__ import annotations

import logging

from agent.actions.base import ActionContext, ActionResult

log = logging.getLogger("driftline.agent.incident")


async def log_error(ctx: ActionContext) -> ActionResult:
    """Write the incident as one structured error line (repeating it on a rerun is harmless)."""
    a = ctx.action
    log.error("incident %s on %s: %s", ctx.scheduled.correlation_id, a.model, a.reason,
              extra={"correlation_id": ctx.scheduled.correlation_id, "action_id": a.action_id, "model": a.model})
    return ActionResult(summary=f"logged the incident on {a.model}", result={"logged": True})


async def send_alert(ctx: ActionContext) -> ActionResult:
    """A request to the notifier: it delivers the message on `params.channels` (by default the channels the
    notify routes give the incident's severity) and records each delivery as its own outcome event."""
    a = ctx.action
    message = a.params.get("message") or f"Incident on {a.model}: {a.reason}"
    channels = a.params.get("channels") or ["default"]
    return ActionResult(summary=f"alert on {a.model} handed to the notifier for {', '.join(channels)}",
                        result={"message": message, "channels": channels, "severity": a.severity or "medium"})
