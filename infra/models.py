"""The model registry conventions every part shares: where MLflow is, what a version carries, how to load it.

A registered version of `settings.model_name` is an sklearn-compatible pipeline logged with
`mlflow.sklearn.log_model(name=MODEL_ARTIFACT, signature=..., serialization_format="cloudpickle")`; it takes a
pandas DataFrame with the signature's columns and has `predict_proba`. The run that logged it also carries:
  - REFERENCE_ARTIFACT: the training features and target (parquet), the monitors' reference profile;
  - HOLDOUT_ARTIFACT: the held-out split (parquet), so a challenger and a champion compare on the same rows;
  - RECENT_ARTIFACT, only for a version trained with labelled production rows: the newest of them, which judged
    its promotion and were never trained on. They are today's traffic, so they replace both frames above as the
    monitors' reference (`monitoring_frames`): the training part mixes the original data with the traffic that
    drifted, and a repaired model judged against it would be found drifting at once;
  - tags TARGET_TAG (target column) and DATASET_HASH_TAG (content hash of the data set).
Aliases, never stages: CHAMPION serves, CHALLENGER is the newest best candidate. Several challengers may shadow
at once: every alias `challenger` or `challenger-<name>` (set by hand for the extra ones) is scored in the shadow
unless it points at the champion's version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.settings import Settings

MODEL_ARTIFACT = "model"
REFERENCE_ARTIFACT = "reference/reference.parquet"
HOLDOUT_ARTIFACT = "reference/holdout.parquet"
RECENT_ARTIFACT = "reference/recent.parquet"
TARGET_TAG = "driftline.target"
DATASET_HASH_TAG = "driftline.dataset_hash"
CHAMPION = "champion"
CHALLENGER = "challenger"


def configure_mlflow(settings: Settings) -> str:
    """Point this process's MLflow client at the configured tracking store and registry; returns the URI."""
    import mlflow

    uri = settings.resolved_mlflow_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        settings.mlflow_artifacts_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    # MLflow also exports these as MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI into this process's environment, which
    # its children inherit (and Settings reads MLFLOW_TRACKING_URI as a fallback): `driftline up` hands its services
    # DRIFTLINE_MLFLOW_TRACKING_URI, which wins.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def artifact_location(settings: Settings) -> str | None:
    """Where new experiments keep artifacts (a folder in the data dir for the local SQLite store)."""
    if settings.mlflow_tracking_uri:
        return None
    return settings.mlflow_artifacts_dir.as_uri()


@dataclass(frozen=True)
class LoadedModel:
    """A registry version in memory, with what serving and monitoring need to know about it."""

    name: str
    version: str
    run_id: str
    model: Any  # sklearn-compatible: predict_proba(DataFrame)
    features: list[str]
    feature_types: dict[str, str]  # column -> MLflow type name: double, long, string, boolean...
    classes: list[Any]
    example: dict[str, Any] | None = None  # one complete row of the reference data, for the API's documentation
    predict_fn: str = "predict"  # what MLflow's pyfunc (and so `mlflow models serve`) calls: predict or predict_proba


def champion_version(settings: Settings, alias: str = CHAMPION):
    """The registry's ModelVersion behind an alias, or None when the alias is not set."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_model_version_by_alias(settings.model_name, alias)
    except MlflowException:
        return None


def is_challenger(alias: str) -> bool:
    return alias == CHALLENGER or alias.startswith(CHALLENGER + "-")


def challenger_versions(settings: Settings) -> dict[str, str]:
    """Alias -> version of every challenger that is not the champion (shadowing challengers), in alias order."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        aliases = MlflowClient().get_registered_model(settings.model_name).aliases or {}
    except MlflowException:
        return {}
    champion = aliases.get(CHAMPION)
    return {alias: str(v) for alias, v in sorted(aliases.items()) if is_challenger(alias) and str(v) != str(champion)}


def registry_version(settings: Settings, version: str) -> dict | None:
    """A registered version of the model with the held-out metrics of the run that logged it, or None when the
    registry has no such version. Needs configure_mlflow first."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if not str(version).isdigit():  # MLflow versions are 1, 2, ...: anything else names none
        return None
    client = MlflowClient()
    try:
        mv = client.get_model_version(settings.model_name, str(version))
    except MlflowException:
        return None
    try:
        metrics = dict(client.get_run(mv.run_id).data.metrics) if mv.run_id else {}
    except MlflowException:
        metrics = {}
    return {"version": str(mv.version), "run_id": mv.run_id, "metrics": metrics, "aliases": list(mv.aliases or [])}


def registered_versions(settings: Settings) -> list[str]:
    """Every registered version of the model, oldest first."""
    from mlflow import MlflowClient

    found = MlflowClient().search_model_versions(f"name='{settings.model_name}'")
    return sorted((str(v.version) for v in found), key=int)


def load_version(settings: Settings, version: str) -> LoadedModel:
    """Load one registry version as a LoadedModel."""
    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.models import get_model_info

    uri = f"models:/{settings.model_name}/{version}"
    mv = MlflowClient().get_model_version(settings.model_name, str(version))
    info = get_model_info(uri)
    inputs = info.signature.inputs.to_dict() if info.signature else []
    model = mlflow.sklearn.load_model(uri)
    features = [col["name"] for col in inputs]
    return LoadedModel(
        name=settings.model_name,
        version=str(mv.version),
        run_id=mv.run_id,
        model=model,
        features=features,
        feature_types={col["name"]: col["type"] for col in inputs},
        classes=list(getattr(model, "classes_", [])),
        example=example_row(mv.run_id, features),
        predict_fn=info.flavors.get("python_function", {}).get("predict_fn", "predict"),
    )


def example_row(run_id: str, features: list[str]) -> dict[str, Any] | None:
    """The first reference row with every feature present, as JSON values; None when there is none."""
    try:
        frame = load_run_frame(run_id)[features]
    except Exception:  # a version without reference data still serves
        return None
    complete = frame.dropna()
    if complete.empty:
        return None
    row = {name: complete[name].iloc[0] for name in features}  # per column: a row of mixed types would upcast
    return {name: value.item() if hasattr(value, "item") else value for name, value in row.items()}


def load_alias(settings: Settings, alias: str = CHAMPION) -> LoadedModel | None:
    """Load the version an alias points at; None if the registry has none."""
    mv = champion_version(settings, alias)
    return load_version(settings, mv.version) if mv else None


def monitoring_artifacts(run_id: str) -> tuple[str, str]:
    """(reference, hold-out) artifacts the monitors compare a version's traffic with: the recent production rows
    for both when the run has them, else the training part and the hold-out split."""
    from mlflow import MlflowClient

    folder = REFERENCE_ARTIFACT.rsplit("/", 1)[0]
    if any(f.path == RECENT_ARTIFACT for f in MlflowClient().list_artifacts(run_id, folder)):
        return RECENT_ARTIFACT, RECENT_ARTIFACT
    return REFERENCE_ARTIFACT, HOLDOUT_ARTIFACT


def load_run_frame(run_id: str, artifact: str = REFERENCE_ARTIFACT):
    """A parquet artifact of a run (reference or hold-out data) as a DataFrame."""
    import mlflow.artifacts
    import pandas as pd

    return pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact))
