"""delete_data: a person starts it and a second admin approves it; the agent never proposes or schedules it
(the executor's authorisation checks both people before this runs).

What can be deleted: production data on the bus (`predictions`: requests and predictions, `labels`: late true
labels) up to an optional time, and stored `reports` files. The AUDIT stream is never deletable (the server
refuses), and training data sets are the user's files, not ours to delete.
"""

from __future__ import annotations

from datetime import datetime

from agent.actions.base import ActionContext, ActionResult
from infra.stream_reader import read_stream

# dataset -> where it is stored: (stream, subject filter) pairs
STREAM_DATA = {
    "predictions": (("REQUESTS", "driftline.prediction.requested"), ("PREDICTIONS", "driftline.prediction.>")),
    "labels": (("PREDICTIONS", "driftline.feedback.>"),),
}
DATASETS = (*STREAM_DATA, "reports")


async def _first_seq_at(ctx: ActionContext, stream: str, subject: str, before: datetime) -> int | None:
    async for msg in read_stream(ctx.bus.js, stream, subjects=(subject,), start_time=before, batch=1):
        return msg.seq
    return None


async def _count(ctx: ActionContext, places) -> int:
    total = 0
    for stream, subject in places:
        info = await ctx.bus.js.stream_info(stream, subjects_filter=subject)
        total += sum((info.state.subjects or {}).values())
    return total


async def _purge(ctx: ActionContext, stream: str, subject: str, before: datetime | None) -> None:
    upto = await _first_seq_at(ctx, stream, subject, before) if before else None
    if upto:
        await ctx.bus.js.purge_stream(stream, subject=subject, seq=upto)  # keeps upto and later
    else:
        await ctx.bus.js.purge_stream(stream, subject=subject)  # no time limit, or everything stored is older


async def delete_data(ctx: ActionContext) -> ActionResult:
    """Purge production data (or report files) older than params.before; idempotent (a rerun finds less)."""
    dataset = ctx.action.params.get("dataset")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    before_text = ctx.action.params.get("before")
    before = datetime.fromisoformat(before_text) if before_text else None
    if dataset == "reports":
        files = [p for p in ctx.settings.reports_dir.rglob("*") if p.is_file()] if ctx.settings.reports_dir.exists() else []
        doomed = [p for p in files if before is None or datetime.fromtimestamp(p.stat().st_mtime, before.tzinfo) < before]
        for path in doomed:
            path.unlink(missing_ok=True)
        return ActionResult(summary=f"deleted {len(doomed)} report file(s)", result={"dataset": dataset},
                            metrics_before={"files": len(files)}, metrics_after={"files": len(files) - len(doomed)})
    places = STREAM_DATA[dataset]
    before_count = await _count(ctx, places)
    for stream, subject in places:
        await _purge(ctx, stream, subject, before)
    after_count = await _count(ctx, places)
    scope = f" recorded before {before_text}" if before_text else ""
    subjects = ", ".join(subject for _, subject in places)
    return ActionResult(summary=f"deleted {dataset}{scope}", result={"dataset": dataset, "subject": subjects},
                        metrics_before={"messages": before_count}, metrics_after={"messages": after_count})
