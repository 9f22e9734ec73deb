"""retrain_model: train on the reference data plus recent labelled production data; promote only if better."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime, timedelta

from agent.actions.base import ActionContext, ActionResult
from agent.actions.production_data import labelled_rows
from infra.models import CHAMPION, TARGET_TAG, champion_version, configure_mlflow
from schemas import ModelPromoted
from schemas.envelope import utcnow

log = logging.getLogger(__name__)
TRIGGER_TAG = "driftline.trigger"  # the trainer tags its parent run with the trigger: our action id
DATASET_TAG = "driftline.dataset"
SCHEMA_PATH_TAG = "driftline.schema_path"
LABEL_POLL_S = 5.0  # between looks at the labels while a retrain waits for them


def _champion_lineage(settings) -> dict[str, str]:
    """Tags of the champion's training run: target column, data set, schema."""
    from mlflow import MlflowClient

    configure_mlflow(settings)
    mv = champion_version(settings, CHAMPION)
    if mv is None:
        return {}
    return dict(MlflowClient().get_run(mv.run_id).data.tags)


def earlier_training(settings, action_id: str) -> dict[str, str] | None:
    """Tags of a training this action already finished (registered and compared), if any."""
    import mlflow

    configure_mlflow(settings)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list",
                              filter_string=f"tags.`{TRIGGER_TAG}` = '{action_id}'")
    done = [r for r in runs if "driftline.version" in r.data.tags]
    return dict(done[0].data.tags) if done else None


async def _labelled_since(ctx: ActionContext, target: str, began: datetime, rule: dict, wait_minutes: float) -> int:
    """Rows labelled since the incident began, once there are enough to hold out min_recent_rows at recent_share, or
    as many as there are after `wait_minutes`: a retrain approved seconds after the alert would otherwise learn
    from, and be judged on, the traffic from before the change (its labels are the ones that arrived)."""
    needed = math.ceil(rule["min_recent_rows"] / rule["recent_share"])
    deadline = time.monotonic() + wait_minutes * 60
    while True:
        count = len(await labelled_rows(ctx.bus.js, ctx.action.model, target, since=began))
        if count >= needed or time.monotonic() >= deadline:
            log.info("retrain %s: %d rows labelled since %s (%d wanted)", ctx.action.action_id, count,
                     began.isoformat(), needed)
            return count
        log.info("retrain %s waits for labels: %d of %d rows labelled since the incident began", ctx.action.action_id,
                 count, needed)
        await asyncio.sleep(min(LABEL_POLL_S, max(deadline - time.monotonic(), 0.1)))


async def retrain_model(ctx: ActionContext) -> ActionResult:
    """Run the trainer with trigger=action id; after a crash, reuse the training the action already finished."""
    s, action = ctx.settings, ctx.action
    if ctx.attempt > 1:
        earlier = await asyncio.to_thread(earlier_training, s, action.action_id)
        if earlier:
            version, promoted = earlier["driftline.version"], earlier.get("driftline.promoted") == "true"
            return ActionResult(summary=f"version {version} was already trained by this action "
                                        f"({'promoted' if promoted else 'not promoted'}); not training again",
                                result={"version": version, "promoted": promoted, "reused": True,
                                        "reason": earlier.get("driftline.reason", "")})
    if ctx.train is None:
        raise RuntimeError("no trainer available to the executor")
    lineage = await asyncio.to_thread(_champion_lineage, s)
    target = action.params.get("target") or lineage.get(TARGET_TAG)
    dataset = action.params.get("dataset") or lineage.get(DATASET_TAG) or "builtin:breast_cancer"
    schema = action.params.get("schema") or lineage.get(SCHEMA_PATH_TAG) or None
    rule = ctx.promotion.model_dump() if ctx.promotion is not None else None
    wait_minutes = rule.pop("wait_for_labels_minutes", 0.0) if rule is not None else 0.0
    if rule is not None and "max_reference_drop" in action.params:  # the policy's response for this issue says so
        rule["max_reference_drop"] = float(action.params["max_reference_drop"])
    extra = None
    if action.params.get("include_production_labels", True) and target:
        lookback = utcnow() - timedelta(hours=float(action.params.get("lookback_hours", 24)))
        began = datetime.fromisoformat(action.params["since"]) if action.params.get("since") else None
        if began is not None and rule is not None and rule["decide_on"] == "recent":
            changed = await _labelled_since(ctx, target, began, rule, wait_minutes)
            rule["recent_of_last"] = changed
        extra = await labelled_rows(ctx.bus.js, action.model, target, since=lookback)
        extra = extra if len(extra) else None
    outcome = await ctx.train(s, dataset=dataset, target=target, schema=schema if schema not in ("None", "") else None,
                              trigger=action.action_id, extra_rows=extra, families=action.params.get("families"),
                              publish=ctx.bus.publish, cause=ctx.scheduled, promotion=rule)
    promotion = next((e for e in outcome.events if isinstance(e, ModelPromoted)), None)
    # On the hold-out that decided (the newest production rows when there were enough): the champion, then the new one.
    before = dict(promotion.data.champion_metrics) if promotion else {}
    after = dict(promotion.data.challenger_metrics) if promotion and outcome.promoted else before
    rows = 0 if extra is None else len(extra)
    # Not promoted, the version keeps the challenger alias the trainer gave it: gateways and workers score it in the
    # shadow, and the monitor's sequential test may still propose it (model.shadow_decided).
    verdict = ("promoted to champion" if outcome.promoted else "kept the current champion" + (
        f"; version {outcome.version} stays challenger, judged in the shadow" if s.shadow_enabled else ""))
    return ActionResult(
        summary=f"trained version {outcome.version} with {rows} labelled production row(s): {verdict} "
                f"({outcome.reason})",
        result={"version": outcome.version, "promoted": outcome.promoted,
                "shadowed": not outcome.promoted and s.shadow_enabled, "champion_version": outcome.champion_version,
                "previous_champion": outcome.previous_champion, "production_rows": rows,
                "parent_run_id": outcome.parent_run_id, "reason": outcome.reason},
        metrics_before=before, metrics_after=after)
