"""Fitting candidates on a Dask cluster, with `Fitter`'s interface (`fit_all(jobs)` yields `Fitted`).

XGBoost trains through `xgboost.dask.DaskXGBClassifier` and LightGBM through `lightgbm.DaskLGBMClassifier`, on
every partition of the training part. Each comes back as the same sklearn pipeline local training registers
(preprocessing, then a plain XGBClassifier / LGBMClassifier fitted with one thread), so the registry version
loads and serves through `infra.models` exactly as one trained in one process.

Logistic regression and random forest have no distributed form in scikit-learn (dask-ml's estimators do not
cover a random forest, and its logistic regression would be a third way to the same model). With
`dask_undistributed=sample` (the default) each trains on the seeded training sample of `dask_sample_rows` rows, on
a worker, and its run says so (params `model.backend=dask-sample`, `model.train_rows`); with `skip` they are left
out (`DaskTrainingRun.families`).

Preprocessing statistics (numeric medians, the categories of each column) are fitted on the training sample; the
fitted preprocessing then transforms every partition on its worker into float32 matrices the two distributed
families share.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from trainer import pipelines
from trainer.dask_parts import DISTRIBUTED, DaskParts
from trainer.fitting import FitJob, Fitted, fit_candidate, scored

log = logging.getLogger("trainer")


def _fit_on_sample(job: FitJob) -> Fitted:
    fitted = fit_candidate(job)
    fitted.params.update(backend="dask-sample", train_rows=len(job.train))
    return fitted


def _with_labels(model, job: FitJob):
    """A model trained on class codes 0..k-1 answering in the data's labels (as `pipelines.estimator` builds)."""
    if list(job.classes) == list(range(len(job.classes))):
        return model
    from trainer.labels import EncodedLabels

    wrapper = EncodedLabels(pipelines.estimator(job.family, job.seed, list(range(len(job.classes)))))
    wrapper.classes_, wrapper.model_ = np.asarray(job.classes), model
    return wrapper


class DaskFitter:
    def __init__(self, client, parts: DaskParts, settings):
        self.client, self.parts, self.settings = client, parts, settings
        self.workers = len(client.nthreads())  # scheduler_info() lists only the first few workers
        self._matrix = None  # (fitted preprocessing, X, y) shared by the distributed families

    def __enter__(self) -> DaskFitter:
        return self

    def __exit__(self, *exc) -> None:
        self._matrix = None  # the workers drop the matrices once nothing holds them

    def fit_all(self, jobs: list[FitJob]) -> Iterator[Fitted]:
        """The distributed families one after another (each uses every worker), then the others side by side."""
        for job in (j for j in jobs if j.family in DISTRIBUTED):
            yield self._fit_distributed(job)
        sampled = [j for j in jobs if j.family not in DISTRIBUTED]
        for job in sampled:
            log.info("%s has no distributed form: training it on a seeded sample of %d of %d training rows",
                     job.family, len(job.train), self.parts.train_rows, extra={"family": job.family})
        futures = [self.client.submit(_fit_on_sample, job, pure=False) for job in sampled]  # side by side
        for future in futures:
            yield future.result()

    def _matrices(self, job: FitJob):
        """Preprocessing fitted on the training sample; every training partition transformed on its worker."""
        if self._matrix is not None:
            return self._matrix
        import dask.array as da
        from dask import delayed

        features = [*job.numeric, *job.categorical]
        pre = pipelines.preprocessor(job.numeric, job.categorical, scale=False).fit(job.train[features])
        width = len(pre.get_feature_names_out())
        codes = {label: i for i, label in enumerate(job.classes)}

        def matrix(part):
            return pre.transform(part[features]).astype(np.float32)

        def labels(part):
            return part[job.target].map(codes).to_numpy(dtype=np.int32)

        parts = self.parts.train.to_delayed()
        X = da.concatenate([da.from_delayed(delayed(matrix)(p), shape=(n, width), dtype=np.float32)
                            for p, n in zip(parts, self.parts.train_lengths, strict=True) if n])
        y = da.concatenate([da.from_delayed(delayed(labels)(p), shape=(n,), dtype=np.int32)
                            for p, n in zip(parts, self.parts.train_lengths, strict=True) if n])
        X, y = self.client.persist([X, y])
        self._matrix = pre, X, y
        self.parts.train = None  # the matrices are all the distributed families need: the workers drop the frame
        return self._matrix

    def _fit_distributed(self, job: FitJob) -> Fitted:
        started = time.perf_counter()
        pre, X, y = self._matrices(job)
        with self.client.as_current():  # both libraries look the client up as the current one, even when given
            model = self._xgboost(job, X, y) if job.family == "xgboost" else self._lightgbm(job, X, y)
        pipeline = pipelines.build(job.family, job.numeric, job.categorical, job.classes, job.seed)
        pipeline.steps[0] = ("preprocess", pre)
        pipeline.steps[-1] = ("model", _with_labels(model, job))
        log.info("%s trained on %d rows in %d partitions on a Dask cluster of %d workers", job.family,
                 self.parts.train_rows, sum(1 for n in self.parts.train_lengths if n), self.workers,
                 extra={"family": job.family})
        return scored(job, pipeline, started, backend="dask", train_rows=self.parts.train_rows, workers=self.workers)

    def _xgboost(self, job: FitJob, X, y):
        from xgboost import XGBClassifier
        from xgboost import dask as dxgb

        params = dict(pipelines.FAMILIES["xgboost"])
        model = dxgb.DaskXGBClassifier(random_state=job.seed, **{**params, "n_jobs": None})  # worker's threads
        model.client = self.client
        model.fit(X, y, verbose=False)
        local = XGBClassifier(random_state=job.seed, **params)  # one thread when it serves
        with tempfile.TemporaryDirectory() as tmp:  # XGBoost's own hand-over from the Dask to the plain estimator
            path = Path(tmp) / "model.json"
            model.save_model(path)
            local.load_model(path)
        return local

    def _lightgbm(self, job: FitJob, X, y):
        from lightgbm import DaskLGBMClassifier

        params = {k: v for k, v in pipelines.FAMILIES["lightgbm"].items() if k != "n_jobs"}  # Dask sets threads
        model = DaskLGBMClassifier(client=self.client, random_state=job.seed, **params)
        model.fit(X, y)
        local = model.to_local()
        local.set_params(n_jobs=pipelines.FAMILIES["lightgbm"]["n_jobs"])
        return local
