"""MLflow tracking: one parent run per training, one child run per candidate, lineage on every run."""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from infra.models import (
    DATASET_HASH_TAG,
    HOLDOUT_ARTIFACT,
    MODEL_ARTIFACT,
    RECENT_ARTIFACT,
    REFERENCE_ARTIFACT,
    TARGET_TAG,
    artifact_location,
    configure_mlflow,
)
from infra.settings import Settings
from trainer.fitting import Fitted

SPLIT_SEED_TAG = "driftline.split_seed"
SCHEMA_HASH_TAG = "driftline.schema_sha256"
SCHEMA_PATH_TAG = "driftline.schema_path"
DATASET_TAG = "driftline.dataset"
TRIGGER_TAG = "driftline.trigger"
BACKEND_TAG = "driftline.backend"
FAMILY_TAG = "driftline.family"
SCHEMA_ARTIFACT = "validation/schema.yaml"
SUMMARY_ARTIFACT = "validation/summary.json"
# Pinned so MLflow does not infer requirements by loading the model in a subprocess (seconds per model).
_REQUIREMENTS = ("scikit-learn", "xgboost", "lightgbm", "pandas", "numpy", "cloudpickle")


@dataclass(frozen=True)
class Lineage:
    """What ties a run to the exact data that made it."""

    dataset: str
    dataset_hash: str
    target: str
    split_seed: int
    schema_path: Path
    schema_sha256: str
    trigger: str
    extra_rows: int = 0
    backend: str = "local"  # settings.train_backend: where the data was validated and the candidates fitted

    def tags(self) -> dict[str, str]:
        return {
            DATASET_TAG: self.dataset, DATASET_HASH_TAG: self.dataset_hash, TARGET_TAG: self.target,
            SPLIT_SEED_TAG: str(self.split_seed), SCHEMA_PATH_TAG: str(self.schema_path),
            SCHEMA_HASH_TAG: self.schema_sha256, TRIGGER_TAG: self.trigger, BACKEND_TAG: self.backend,
        }

    def params(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "dataset_hash": self.dataset_hash, "target": self.target,
                "split_seed": self.split_seed, "extra_rows": self.extra_rows, "backend": self.backend}


def requirements() -> list[str]:
    pins = []
    for name in _REQUIREMENTS:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return pins


def experiment(settings: Settings) -> str:
    """Point MLflow at the store and make sure the training experiment exists; returns its id."""
    import mlflow

    configure_mlflow(settings)
    found = mlflow.get_experiment_by_name(settings.training_experiment)
    if found is None:
        from mlflow.exceptions import MlflowException

        try:
            return mlflow.create_experiment(settings.training_experiment, artifact_location=artifact_location(settings))
        except MlflowException:  # created meanwhile by a concurrent training
            found = mlflow.get_experiment_by_name(settings.training_experiment)
    return found.experiment_id


def log_lineage(lineage: Lineage) -> None:
    """Tags, params and the schema file on the active run."""
    import mlflow

    mlflow.set_tags(lineage.tags())
    mlflow.log_params(lineage.params())
    with tempfile.TemporaryDirectory() as tmp:  # under one fixed name, whatever the file is called
        copy = Path(tmp) / Path(SCHEMA_ARTIFACT).name
        copy.write_bytes(lineage.schema_path.read_bytes())
        mlflow.log_artifact(str(copy), artifact_path=str(Path(SCHEMA_ARTIFACT).parent))


def log_frames(train: pd.DataFrame, holdout: pd.DataFrame, recent: pd.DataFrame | None = None) -> None:
    """The reference (training part) and hold-out frames, as infra.models promises every model's run has, and the
    recent production rows that judged the promotion when there were any."""
    import mlflow

    frames = [(train, REFERENCE_ARTIFACT), (holdout, HOLDOUT_ARTIFACT)]
    if recent is not None and len(recent):
        frames.append((recent, RECENT_ARTIFACT))
    with tempfile.TemporaryDirectory() as tmp:
        for frame, artifact in frames:
            path = Path(tmp) / Path(artifact).name
            frame.to_parquet(path, index=False)
            mlflow.log_artifact(str(path), artifact_path=str(Path(artifact).parent))


def log_candidate(fitted: Fitted, *, lineage: Lineage, train: pd.DataFrame, holdout: pd.DataFrame,
                  features: list[str], recent: pd.DataFrame | None = None) -> tuple[str, str]:
    """A child run of the active parent run for one fitted candidate; returns (run id, model URI)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    parent = mlflow.active_run()
    with mlflow.start_run(run_name=fitted.family, nested=True, experiment_id=parent.info.experiment_id) as run:
        log_lineage(lineage)
        mlflow.set_tag(FAMILY_TAG, fitted.family)
        mlflow.log_params({f"model.{k}": v for k, v in fitted.params.items()})
        mlflow.log_metrics({**fitted.metrics, "fit_seconds": fitted.seconds})
        for name, png in fitted.images.items():
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / name
                path.write_bytes(png)
                mlflow.log_artifact(str(path), artifact_path="plots")
        mlflow.log_dict({"confusion_matrix": fitted.confusion, "importance": fitted.importance}, "evaluation.json")
        log_frames(train, holdout, recent)
        X = train[features]
        model = fitted.pipeline.named_steps["model"]
        if type(getattr(model, "estimator", model)).__module__ == "trainer.labels":  # inside the calibration
            import cloudpickle

            import trainer.labels

            cloudpickle.register_pickle_by_value(trainer.labels)  # the model loads without the trainer package
        # The registry convention is cloudpickle (infra/models.py); MLflow's caution about it is noise here.
        logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
        info = mlflow.sklearn.log_model(
            fitted.pipeline,
            name=MODEL_ARTIFACT,
            signature=infer_signature(X, fitted.pipeline.predict_proba(X)),
            input_example=X.head(3),
            serialization_format="cloudpickle",
            pip_requirements=requirements(),
        )
    return run.info.run_id, info.model_uri


def log_summary(summary: dict[str, Any]) -> None:
    import mlflow

    mlflow.log_dict(json.loads(json.dumps(summary, default=str)), SUMMARY_ARTIFACT)
