"""The events a training emits, built from its results (pure: no bus, no registry)."""

from __future__ import annotations

from typing import Any

from schemas import Event
from schemas.data import CheckFailure, DataRejected, DatasetRejected, DatasetValidated, DataValidated
from schemas.model import Candidate, ModelPromoted, ModelTrained, Promotion, TrainingResult

SOURCE = "trainer"


def _first(event_cls: type[Event], data: Any, subject: str, cause: Event | None) -> Event:
    """The first event of a training: derived from its cause (e.g. the agent's action) when there is one."""
    if cause is not None:
        return cause.caused(event_cls, source=SOURCE, data=data, subject=subject)
    return event_cls(source=SOURCE, subject=subject, data=data)


def validated(*, model: str, dataset: str, content_hash: str, rows: int, columns: list[str], target: str,
              schema_path: str, summary: dict[str, Any], cause: Event | None = None) -> DataValidated:
    data = DatasetValidated(dataset=dataset, content_hash=content_hash, rows=rows, columns=columns, target=target,
                            schema_path=schema_path, summary=summary)
    return _first(DataValidated, data, model, cause)


def rejected(*, model: str, dataset: str, content_hash: str, rows: int, failures: list[CheckFailure],
             schema_path: str | None = None, cause: Event | None = None) -> DataRejected:
    data = DatasetRejected(dataset=dataset, content_hash=content_hash, rows=rows, failures=failures,
                           schema_path=schema_path)
    return _first(DataRejected, data, model, cause)


def trained(cause: DataValidated, *, model: str, version: str, parent_run_id: str, best_family: str,
            selection_metric: str, candidates: list[Candidate], split_seed: int, trigger: str) -> ModelTrained:
    data = TrainingResult(
        model=model, version=version, parent_run_id=parent_run_id, best_family=best_family,
        selection_metric=selection_metric, candidates=candidates, dataset=cause.data.dataset,
        dataset_hash=cause.data.content_hash, split_seed=split_seed, trigger=trigger,
    )
    return cause.caused(ModelTrained, source=SOURCE, data=data)


def promoted(cause: ModelTrained, *, promote: bool, reason: str, previous_version: str | None, metric: str,
             challenger_metrics: dict[str, float], champion_metrics: dict[str, float],
             comparisons: list | None = None, rule: str = "") -> ModelPromoted:
    """The champion alias moved (promoted=True), or the challenger was declined and the champion stays."""
    version = cause.data.version if promote or previous_version is None else previous_version
    data = Promotion(
        model=cause.data.model, version=version, previous_version=previous_version, promoted=promote,
        reason=reason, metric=metric, challenger_metrics=challenger_metrics, champion_metrics=champion_metrics,
        challenger_version=cause.data.version, comparisons=comparisons or [], rule=rule,
    )
    return cause.caused(ModelPromoted, source=SOURCE, data=data)
