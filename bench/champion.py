"""The benchmarks' champion: a small logistic regression on breast cancer, registered by infra/models.py's
conventions, and the rows it is trained on. The tests of the parts that serve, watch or repair a model use the same
champion (tests/model_fixtures.py); the trainer's own tests and `--model trained` use the real training pipeline."""

from __future__ import annotations

import tempfile
from pathlib import Path

from infra.models import (
    CHAMPION,
    DATASET_HASH_TAG,
    HOLDOUT_ARTIFACT,
    MODEL_ARTIFACT,
    REFERENCE_ARTIFACT,
    TARGET_TAG,
    artifact_location,
    configure_mlflow,
)
from infra.settings import Settings


def breast_cancer_frame(legacy_names: bool = False):
    """scikit-learn's breast cancer data under its own names (`mean radius`); `legacy_names`: as the first
    trainer renamed them (`mean_radius`), for models registered before names were kept."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    if legacy_names:
        frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame


def register_simple_model(settings: Settings, *, alias: str = CHAMPION, C: float = 1.0, seed: int = 0,
                          legacy_names: bool = False) -> str:
    """Train a logistic regression on breast cancer, register it, point `alias` at it; returns the version."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    configure_mlflow(settings)
    frame = breast_cancer_frame(legacy_names)
    train, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame["target"])
    features = train.drop(columns="target")
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500)).fit(features, train["target"])
    name = "driftline-test"
    if mlflow.get_experiment_by_name(name) is None:
        mlflow.create_experiment(name, artifact_location=artifact_location(settings))
    mlflow.set_experiment(name)
    with mlflow.start_run(), tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({TARGET_TAG: "target", DATASET_HASH_TAG: "test"})
        for frame_part, artifact in ((train, REFERENCE_ARTIFACT), (test, HOLDOUT_ARTIFACT)):
            path = Path(tmp) / Path(artifact).name
            frame_part.to_parquet(path)
            mlflow.log_artifact(str(path), artifact_path=str(Path(artifact).parent))
        info = mlflow.sklearn.log_model(
            pipeline,
            name=MODEL_ARTIFACT,
            signature=infer_signature(features, pipeline.predict_proba(features)),
            input_example=features.head(2),
            serialization_format="cloudpickle",
            registered_model_name=settings.model_name,
        )
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(settings.model_name, alias, version)
    return version
