"""What MLflow knows about a registered version: its run, metrics, images the trainer logged, and what we compute.

Synchronous (MLflow's client is); callers run it in a worker thread.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from infra.models import (
    HOLDOUT_ARTIFACT,
    REFERENCE_ARTIFACT,
    TARGET_TAG,
    load_run_frame,
    load_version,
    monitoring_artifacts,
)
from infra.settings import Settings

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")
EVALUATION_ARTIFACT = "evaluation.json"


@dataclass
class ModelEvidence:
    version: str
    run_id: str
    run_metrics: dict[str, float] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)  # "confusion" / "importance" -> data URI of a logged image
    confusion: list[list[int]] | None = None
    labels: list[str] = field(default_factory=list)
    importance: tuple[list[str], list[float]] | None = None
    holdout_rows: int = 0


def run_frame(run_id: str, artifact: str):
    """A run's parquet artifact, falling back to the parent run's (a trainer may keep data on the parent)."""
    from mlflow import MlflowClient

    try:
        return load_run_frame(run_id, artifact)
    except Exception:
        parent = MlflowClient().get_run(run_id).data.tags.get("mlflow.parentRunId")
        if not parent:
            raise
        return load_run_frame(parent, artifact)


def reference_frame(settings: Settings, version: str):
    from mlflow import MlflowClient

    run_id = MlflowClient().get_model_version(settings.model_name, str(version)).run_id
    return run_frame(run_id, monitoring_artifacts(run_id)[0])  # what the monitor compared the traffic with


def _logged_images(run_id: str) -> dict[str, str]:
    import mlflow.artifacts
    from mlflow import MlflowClient

    client, found, folders = MlflowClient(), {}, [None]
    while folders:
        for info in client.list_artifacts(run_id, folders.pop()):
            if info.is_dir and info.path.count("/") < 2:
                folders.append(info.path)
            name = info.path.lower()
            if not name.endswith(IMAGE_SUFFIXES):
                continue
            key = "confusion" if "confusion" in name else "importance" if "importance" in name else None
            if key and key not in found:
                local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=info.path))
                mime = mimetypes.guess_type(local.name)[0] or "image/png"
                found[key] = f"data:{mime};base64," + base64.b64encode(local.read_bytes()).decode()
    return found


def _trainer_evaluation(run_id: str) -> dict:
    """The trainer's own numbers (evaluation.json: confusion_matrix, importance), if the run has them."""
    import mlflow.artifacts

    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{EVALUATION_ARTIFACT}")
    except Exception:
        return {}


def model_evidence(settings: Settings, version: str) -> ModelEvidence:
    """Run metrics, confusion matrix and importances: the trainer's numbers, else computed on the hold-out data.

    We draw the numbers ourselves so every report's charts share one legible style; the trainer's images are
    kept as a fallback for runs that logged no numbers and have no hold-out data."""
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.metrics import confusion_matrix

    loaded = load_version(settings, version)
    run = MlflowClient().get_run(loaded.run_id)
    evidence = ModelEvidence(version=loaded.version, run_id=loaded.run_id, run_metrics=dict(run.data.metrics))
    try:
        evidence.images = _logged_images(loaded.run_id)
    except Exception as exc:
        log.warning("images of run %s unreadable: %s", loaded.run_id, exc)
    target = run.data.tags.get(TARGET_TAG, "target")
    try:
        holdout = run_frame(loaded.run_id, HOLDOUT_ARTIFACT)
    except Exception as exc:
        log.warning("no hold-out data for version %s: %s", version, exc)
        holdout = None
    if holdout is not None and target in holdout:
        features = loaded.features or [c for c in holdout.columns if c != target]
        predicted = loaded.model.predict(holdout[features])
        labels = sorted(set(holdout[target]) | set(predicted))
        evidence.confusion = confusion_matrix(holdout[target], predicted, labels=labels).tolist()
        evidence.labels = [str(label) for label in labels]
        evidence.holdout_rows = len(holdout)
    trained = _trainer_evaluation(loaded.run_id)
    if trained.get("confusion_matrix"):
        evidence.confusion = [[int(v) for v in row] for row in trained["confusion_matrix"]]
        classes = loaded.classes or range(len(evidence.confusion))
        evidence.labels = [str(c) for c in classes][: len(evidence.confusion)]
    if isinstance(trained.get("importance"), dict) and trained["importance"]:
        evidence.importance = (list(trained["importance"]), [float(v) for v in trained["importance"].values()])
        return evidence
    estimator = loaded.model[-1] if hasattr(loaded.model, "steps") else loaded.model
    weights = getattr(estimator, "feature_importances_", None)
    if weights is None and getattr(estimator, "coef_", None) is not None:
        weights = np.abs(np.asarray(estimator.coef_)).mean(axis=0)
    names = list(getattr(loaded.model, "feature_names_in_", loaded.features))
    if weights is not None and len(weights) == len(names):
        evidence.importance = (names, [float(w) for w in weights])
    return evidence


__all__ = ["ModelEvidence", "model_evidence", "reference_frame", "run_frame", "REFERENCE_ARTIFACT"]
