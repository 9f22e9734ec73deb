"""One training, step by step: validate, split, fit in parallel, track, select, register, promote."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from infra.settings import Settings
from schemas import Event
from schemas.data import DataRejected, DataValidated
from schemas.model import Candidate
from trainer import contract as contracts
from trainer import events, promotion, selection, tracking
from trainer.datasets import Dataset, content_hash, legacy_names, load_dataset, with_rows
from trainer.fitting import FitJob, Fitter
from trainer.progress import Progress
from trainer.validation import describe, validate

log = logging.getLogger("trainer")


@dataclass
class Prepared:
    """Validated data, split, with what ties it to the runs."""

    dataset: Dataset
    contract: contracts.Contract
    train: pd.DataFrame
    holdout: pd.DataFrame
    lineage: tracking.Lineage
    summary: dict[str, Any]
    recent: pd.DataFrame | None = None  # newest labelled production rows: judge the promotion, never trained on


def _plain(values) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


@dataclass
class TrainOutcome:
    """What a training did: the version it registered, whether that became champion, and why."""

    version: str
    promoted: bool
    reason: str
    champion_version: str  # the version holding the champion alias afterwards
    previous_champion: str | None
    best_family: str
    selection_metric: str
    candidates: list[Candidate]
    parent_run_id: str
    dataset_hash: str
    events: list[Event] = field(default_factory=list)
    unpublished: list[Event] = field(default_factory=list)  # events the callback failed to take


class TrainingRun:
    def __init__(self, settings: Settings, *, progress: Progress, emit: Callable[[Event], None], trigger: str,
                 cause: Event | None, rule: selection.PromotionRule | None = None):
        self.settings, self.progress, self.emit, self.trigger, self.cause = settings, progress, emit, trigger, cause
        self.rule = rule or selection.PromotionRule(margin=settings.promotion_margin)
        self.prepared: Prepared | None = None

    def families(self, chosen: list[str]) -> list[str]:
        """The families this run fits (every one here; a backend may leave some out, saying why)."""
        return chosen

    def validate(self, spec: str, target: str | None, schema: Path | None,
                 extra_rows: pd.DataFrame | None) -> DataValidated | DataRejected:
        """Load and validate; emits DataValidated or DataRejected and returns it."""
        s = self.settings
        self.progress.stage("validating data")
        dataset = load_dataset(spec, target)
        contract, schema_path, inferred = contracts.resolve(s, dataset, schema)
        contract = _under_the_datas_names(contract, dataset)
        if inferred:
            log.info("inferred a schema for %s and saved it to %s", spec, schema_path, extra={"schema": str(schema_path)})
        frame = with_rows(dataset, extra_rows)
        digest = content_hash(frame)
        verdict = validate(dataset.frame, contract)
        if len(frame) > len(dataset.frame):
            # Production rows meet a contract without reference ranges: their drift is why we retrain.
            extra_verdict = validate(frame.iloc[len(dataset.frame):], contract.for_production_rows())
            verdict = verdict.joined(extra_verdict, "production rows")
        if not verdict.ok:
            for failure in verdict.failures:
                log.error("rejected %s: %s", spec, describe(failure), extra={"dataset": spec, "check": failure.check})
            event = events.rejected(model=s.model_name, dataset=spec, content_hash=digest, rows=len(frame),
                                    failures=verdict.failures, schema_path=str(schema_path), cause=self.cause)
            self.emit(event)
            return event
        data, extra = verdict.frame.iloc[: len(dataset.frame)], verdict.frame.iloc[len(dataset.frame):]
        train, holdout = train_test_split(data, test_size=s.holdout_fraction, random_state=s.split_seed,
                                          stratify=data[contract.target])
        # Production rows come newest last: the newest share judges the promotion (split by time, never trained
        # on), the older ones teach the model.
        held = self.rule.recent_rows(len(extra))
        recent = extra.iloc[len(extra) - held:].reset_index(drop=True) if held else None
        extra = extra.iloc[: len(extra) - held]
        train = pd.concat([train, extra])
        lineage = tracking.Lineage(
            dataset=spec, dataset_hash=digest, target=contract.target, split_seed=s.split_seed,
            schema_path=schema_path.resolve(), schema_sha256=hashlib.sha256(schema_path.read_bytes()).hexdigest(),
            trigger=self.trigger, extra_rows=len(extra),
        )
        summary = {**verdict.summary, "schema_path": str(schema_path), "schema_inferred": inferred,
                   "train_rows": len(train), "holdout_rows": len(holdout), "extra_rows": len(extra),
                   "recent_holdout_rows": held}
        self.prepared = Prepared(dataset, contract, train.reset_index(drop=True), holdout.reset_index(drop=True),
                                 lineage, summary, recent)
        log.info("validated %s: %d rows, hash %s", spec, len(frame), digest[:12], extra={"dataset_hash": digest})
        event = events.validated(model=s.model_name, dataset=spec, content_hash=digest, rows=len(frame),
                                 columns=[*contract.features, contract.target], target=contract.target,
                                 schema_path=str(schema_path), summary=summary, cause=self.cause)
        self.emit(event)
        return event

    def _jobs(self, families: list[str]) -> list[FitJob]:
        p = self.prepared
        rules = p.contract.columns
        numeric = [c for c, r in rules.items() if r.kind == contracts.NUMERIC]
        categorical = [c for c, r in rules.items() if r.kind != contracts.NUMERIC]
        classes = _plain(np.unique(p.train[p.contract.target]))
        return [FitJob(f, p.train, p.holdout, p.contract.target, numeric, categorical, classes, self.settings.split_seed)
                for f in families]

    def fit_and_register(self, validated: DataValidated, families: list[str], fitter: Fitter) -> TrainOutcome:
        """Fit the families under one parent run, register the best, maybe promote it; emits the model events."""
        import mlflow

        s, p = self.settings, self.prepared
        jobs = self._jobs(families)
        features = [*jobs[0].numeric, *jobs[0].categorical]
        self.progress.stage("starting MLflow run")
        experiment_id = tracking.experiment(s)
        candidates: list[Candidate] = []
        uris: dict[str, str] = {}
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{p.dataset.name}") as parent:
            tracking.log_lineage(p.lineage)
            mlflow.log_params({"families": ",".join(families), "holdout_fraction": s.holdout_fraction,
                               "selection_metric": s.selection_metric, "promotion_margin": s.promotion_margin})
            tracking.log_summary(p.summary)
            self.progress.fitting(families)
            for fitted in fitter.fit_all(jobs):
                run_id, uris[fitted.family] = tracking.log_candidate(
                    fitted, lineage=p.lineage, train=p.train, holdout=p.holdout, features=features,
                    recent=p.recent)
                candidates.append(Candidate(family=fitted.family, run_id=run_id, metrics=fitted.metrics))
                log.info("fitted %s: %s", fitted.family, _metrics_text(fitted.metrics),
                         extra={"family": fitted.family, "fit_seconds": round(fitted.seconds, 3), **fitted.metrics})
                self.progress.fitted(fitted.family, fitted.metrics)
            candidates.sort(key=lambda c: families.index(c.family))
            best = selection.best(candidates, s.selection_metric, s.tiebreak_metric)
            self.progress.stage(f"registering {best.family}")
            version = promotion.register(
                s, uris[best.family], tags={"driftline.family": best.family, **p.lineage.tags()},
                description=f"{best.family} trained on {p.lineage.dataset} ({p.lineage.dataset_hash[:12]}); "
                            f"{s.selection_metric}={best.metrics.get(s.selection_metric, float('nan')):.4f}",
            )
            self.progress.stage("comparing with the champion")
            decision, previous, champion_metrics, comparisons = promotion.promote_if_better(
                s, version, best.metrics, p.holdout, p.contract.target, jobs[0].classes, recent=p.recent, rule=self.rule)
            mlflow.log_metrics({f"best_{k}": v for k, v in best.metrics.items()})
            mlflow.set_tags({"driftline.version": version, "driftline.best_family": best.family,
                             "driftline.promoted": str(decision.promote).lower(), "driftline.reason": decision.reason})
            if champion_metrics:
                mlflow.log_metrics({f"champion_{k}": v for k, v in champion_metrics.items()})
        self.progress.stage(f"version {version}: {'champion' if decision.promote else 'challenger'}")
        log.info("version %s (%s) %s: %s", version, best.family, "promoted" if decision.promote else "not promoted",
                 decision.reason, extra={"version": version, "promoted": decision.promote})
        trained = events.trained(validated, model=s.model_name, version=version, parent_run_id=parent.info.run_id,
                                 best_family=best.family, selection_metric=s.selection_metric, candidates=candidates,
                                 split_seed=s.split_seed, trigger=self.trigger)
        self.emit(trained)
        deciding = comparisons[-1]
        self.emit(events.promoted(trained, promote=decision.promote, reason=decision.reason, previous_version=previous,
                                  metric=s.selection_metric, challenger_metrics=deciding.challenger_metrics,
                                  champion_metrics=champion_metrics, comparisons=comparisons, rule=self.rule.words()))
        return TrainOutcome(
            version=version, promoted=decision.promote, reason=decision.reason,
            champion_version=version if decision.promote else (previous or version), previous_champion=previous,
            best_family=best.family, selection_metric=s.selection_metric, candidates=candidates,
            parent_run_id=parent.info.run_id, dataset_hash=p.lineage.dataset_hash,
        )


def _under_the_datas_names(contract: contracts.Contract, dataset: Dataset) -> contracts.Contract:
    """A schema file written before column names were kept names them `mean_radius`: read it under the data's
    own names (`mean radius`) rather than reject the data set for columns it does have."""
    renames = legacy_names([*contract.columns, contract.target], list(dataset.frame.columns))
    if not renames:
        return contract
    log.warning("schema names %d column(s) as the first trainer renamed them; read under the data's names: %s",
                len(renames), ", ".join(f"{old} -> {new}" for old, new in renames.items()))
    return replace(contract, target=renames.get(contract.target, contract.target),
                   columns={renames.get(name, name): rule for name, rule in contract.columns.items()})


def _metrics_text(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
