"""Registry moves: register the best candidate as challenger, score the champion on the same hold-out data,
and move the champion alias only when the decision says so. Aliases only, never stages."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from infra.models import CHALLENGER, CHAMPION, champion_version, load_version
from infra.settings import Settings
from schemas.model import Comparison
from trainer import metrics
from trainer.selection import Decision, PromotionRule, decide_promotion

log = logging.getLogger(__name__)


def register(settings: Settings, model_uri: str, *, tags: dict[str, str], description: str) -> str:
    """A new version of the registered model from a logged model, with alias challenger; returns the version."""
    import mlflow
    from mlflow import MlflowClient

    mv = mlflow.register_model(model_uri, settings.model_name, tags=tags)
    client = MlflowClient()
    client.update_model_version(settings.model_name, mv.version, description=description)
    client.set_registered_model_alias(settings.model_name, CHALLENGER, mv.version)
    return str(mv.version)


def score_version(settings: Settings, version: str, holdout: pd.DataFrame, target: str,
                  classes: list[Any]) -> dict[str, float] | None:
    """A registry version's metrics on a hold-out frame; None if it cannot score it (other features)."""
    try:
        loaded = load_version(settings, version)
        missing = [f for f in loaded.features if f not in holdout.columns]
        if missing:
            log.warning("champion %s needs columns the hold-out data lacks: %s", version, ", ".join(missing[:5]))
            return None
        proba = metrics.proba_for(loaded.model, holdout[loaded.features], classes)
        return metrics.score(holdout[target], proba, classes)
    except Exception as exc:  # an unloadable or incompatible champion is reported, not fatal to training
        log.warning("could not score champion version %s on the hold-out data: %s", version, exc)
        return None


def promote_if_better(settings: Settings, version: str, challenger_metrics: dict[str, float],
                      holdout: pd.DataFrame, target: str, classes: list[Any], *, recent: pd.DataFrame | None = None,
                      rule: PromotionRule | None = None) -> tuple[Decision, str | None, dict, list[Comparison]]:
    """Compare with the champion by the rule, on the reference hold-out and (when there is one) on the newest
    labelled production rows; move the alias if it wins.

    Returns (decision, previous champion version, champion's metrics on the deciding hold-out, every comparison).
    """
    from mlflow import MlflowClient

    rule = rule or PromotionRule(margin=settings.promotion_margin)
    current = champion_version(settings, CHAMPION)
    previous = str(current.version) if current else None
    champion_ref = None
    if previous is not None and previous != version:
        champion_ref = score_version(settings, previous, holdout, target, classes)
    comparisons = [Comparison(holdout="reference", rows=len(holdout), challenger_metrics=challenger_metrics,
                              champion_metrics=champion_ref or {})]
    recent_pair = None
    if recent is not None and len(recent) and previous is not None and previous != version:
        challenger_now = score_version(settings, version, recent, target, classes)
        champion_now = score_version(settings, previous, recent, target, classes)
        recent_pair = (challenger_now, champion_now)
        comparisons.append(Comparison(holdout="recent", rows=len(recent), challenger_metrics=challenger_now or {},
                                      champion_metrics=champion_now or {}))
    decision = decide_promotion(
        (challenger_metrics, champion_ref), recent_pair, 0 if recent is None else len(recent), rule,
        metric=settings.selection_metric, tiebreak=settings.tiebreak_metric, challenger_version=version,
        champion_version=previous)
    client = MlflowClient()
    if decision.promote:
        client.set_registered_model_alias(settings.model_name, CHAMPION, version)
    client.set_model_version_tag(settings.model_name, version, "driftline.promotion", decision.reason)
    deciding = comparisons[-1] if recent_pair is not None else comparisons[0]
    return decision, previous, dict(deciding.champion_metrics), comparisons
