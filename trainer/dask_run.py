"""Training on Dask: the same run as `trainer.run.TrainingRun` (events, MLflow tracking, lineage, selection,
registry and promotion), with the data validated in partitions on the workers and the candidates fitted there.

What stays in the trainer's process is bounded by `dask_sample_rows`: a seeded sample of the hold-out part on
which every candidate and the champion are scored (a sample of 200,000 rows puts the standard error of a ROC AUC
near 0.001), a sample of the training part (the reference profile the monitors compare traffic with, and the
rows preprocessing statistics are fitted on), and the training rows of the families without a distributed form.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from schemas.data import DataRejected, DataValidated
from trainer import contract as contracts
from trainer import events, tracking
from trainer.dask_data import Checked, PartitionedData, digest
from trainer.dask_parts import DISTRIBUTED, DaskParts
from trainer.datasets import Dataset, clean_frame
from trainer.run import Prepared, TrainingRun
from trainer.validation import describe, validate

log = logging.getLogger("trainer")
def _sample(client, frame, rows: int, total: int, seed: int) -> pd.DataFrame:
    """`rows` rows drawn with a seed (per partition a Bernoulli draw of 5% more, then exactly `rows` of those)."""
    if total <= rows:
        return client.compute(frame).result().reset_index(drop=True)
    drawn = client.compute(frame.sample(frac=min(1.0, 1.05 * rows / total), random_state=seed)).result()
    return drawn.sample(n=min(rows, len(drawn)), random_state=seed).reset_index(drop=True)


class DaskTrainingRun(TrainingRun):
    def __init__(self, settings, client, **kwargs):
        super().__init__(settings, **kwargs)
        self.client = client
        self.parts: DaskParts | None = None

    def families(self, chosen: list[str]) -> list[str]:
        """The families this run fits: all, or (dask_undistributed=skip) only those with a distributed form."""
        if self.settings.dask_undistributed == "sample":
            return chosen
        kept = [f for f in chosen if f in DISTRIBUTED]
        for family in chosen:
            if family not in kept:
                log.warning("skipping %s on Dask: it has no distributed form (dask_undistributed=skip)", family)
        if not kept:
            raise ValueError(f"none of {', '.join(chosen)} trains on Dask with dask_undistributed=skip; "
                             f"choose among {', '.join(DISTRIBUTED)}")
        return kept

    def validate(self, spec: str, target: str | None, schema: Path | None,
                 extra_rows: pd.DataFrame | None) -> DataValidated | DataRejected:
        """Read, infer (if no schema) and validate in partitions; emits DataValidated or DataRejected."""
        s = self.settings
        self.progress.stage("validating data in partitions")
        data = PartitionedData.open(self.client, spec, target, s.dask_blocksize)
        contract, schema_path, inferred = contracts.resolve_with(
            s, spec, spec.startswith("builtin:"), schema, lambda: data.infer(s))
        if inferred:
            log.info("inferred a schema for %s and saved it to %s", spec, schema_path, extra={"schema": str(schema_path)})
        checked = data.check(contract)
        extra = self._extra(extra_rows, contract, checked)
        if checked.failures:
            for failure in checked.failures:
                log.error("rejected %s: %s", spec, describe(failure), extra={"dataset": spec, "check": failure.check})
            event = events.rejected(model=s.model_name, dataset=spec, content_hash=checked.content_hash,
                                    rows=checked.rows, failures=checked.failures, schema_path=str(schema_path),
                                    cause=self.cause)
            self.emit(event)
            return event
        self.progress.stage("splitting and sampling")
        self.parts, holdout_part = self._split(checked, extra)
        parts = self.parts
        train = _sample(self.client, parts.train, s.dask_sample_rows, parts.train_rows, s.split_seed)
        holdout = _sample(self.client, holdout_part, s.dask_sample_rows, parts.holdout_rows, s.split_seed)
        del holdout_part  # only its sample judges candidates: the workers may drop the rest
        lineage = tracking.Lineage(
            dataset=spec, dataset_hash=checked.content_hash, target=contract.target, split_seed=s.split_seed,
            schema_path=schema_path.resolve(), schema_sha256=hashlib.sha256(schema_path.read_bytes()).hexdigest(),
            trigger=self.trigger, extra_rows=0 if extra is None else len(extra), backend="dask",
        )
        summary = {**checked.summary, "schema_path": str(schema_path), "schema_inferred": inferred,
                   "train_rows": parts.train_rows, "holdout_rows": parts.holdout_rows,
                   "extra_rows": lineage.extra_rows, "backend": "dask", "partitions": parts.partitions,
                   "reference_sample_rows": len(train), "holdout_sample_rows": len(holdout)}
        self.prepared = Prepared(Dataset(spec, train, contract.target), contract, train, holdout, lineage, summary)
        log.info("validated %s in %d partitions: %d rows, hash %s", spec, parts.partitions, checked.rows,
                 checked.content_hash[:12], extra={"dataset_hash": checked.content_hash})
        event = events.validated(model=s.model_name, dataset=spec, content_hash=checked.content_hash,
                                 rows=checked.rows + lineage.extra_rows, columns=[*contract.features, contract.target],
                                 target=contract.target, schema_path=str(schema_path), summary=summary, cause=self.cause)
        self.emit(event)
        return event

    def _extra(self, extra_rows: pd.DataFrame | None, contract, checked: Checked) -> pd.DataFrame | None:
        """Labelled production rows for a retrain (small, in memory): checked against the production contract."""
        if extra_rows is None or extra_rows.empty:
            return None
        verdict = validate(clean_frame(extra_rows.copy()), contract.for_production_rows())
        checked.failures += [f.model_copy(update={"check": f"production rows: {f.check}"}) for f in verdict.failures]
        checked.content_hash = hashlib.sha256((checked.content_hash + digest(verdict.frame)).encode()).hexdigest()
        return verdict.frame if verdict.ok else None

    def _split(self, checked: Checked, extra: pd.DataFrame | None) -> tuple[DaskParts, Any]:
        """A seeded random split per partition (stratifying a partitioned data set would need a shuffle; at the
        sizes Dask is for, each class's share in both parts is within a fraction of a percent of the whole).
        Both parts are persisted, which frees the unsplit partitions (and lets `to_delayed` see real data)."""
        import dask.dataframe as dd

        s = self.settings
        train, holdout = checked.frame.random_split([1 - s.holdout_fraction, s.holdout_fraction],
                                                     random_state=s.split_seed)
        if extra is not None:  # recent production rows teach the model; they never judge it
            train = dd.concat([train, dd.from_pandas(extra[list(checked.frame.columns)], npartitions=1)])
        train, holdout = self.client.persist([train, holdout])
        checked.frame = None
        train_lengths, holdout_lengths = (f.result().tolist() for f in
                                          self.client.compute([train.map_partitions(len), holdout.map_partitions(len)]))
        parts = DaskParts(train, sum(train_lengths), sum(holdout_lengths), checked.partitions, train_lengths)
        return parts, holdout


@contextmanager
def dask_backend(settings):
    """(run factory, fitter factory) for one training on the configured Dask cluster."""
    import dask

    from trainer.dask_cluster import connect
    from trainer.dask_fitting import DaskFitter

    # Text stays object columns with NaN for missing, as pandas reads a file: Dask would otherwise turn every
    # object column it meets into Arrow strings with pd.NA, which scikit-learn's imputers cannot compare.
    with dask.config.set({"dataframe.convert-string": False}), connect(settings) as client:
        def run(**kwargs) -> DaskTrainingRun:
            return DaskTrainingRun(settings, client, **kwargs)

        def fitter(run: DaskTrainingRun, families: list[str], rows: int) -> DaskFitter:
            return DaskFitter(client, run.parts, settings)

        yield run, fitter
