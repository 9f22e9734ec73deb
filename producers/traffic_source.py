"""Where simulated traffic comes from: the champion's reference data, else the built-in data set."""

from __future__ import annotations

import pandas as pd

from infra.models import TARGET_TAG, champion_version, configure_mlflow, load_run_frame
from infra.settings import Settings


def builtin_breast_cancer() -> tuple[pd.DataFrame, str]:
    """scikit-learn's breast cancer data under its own column names (`mean radius`), as the trainer keeps them."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame, "target"


def load_traffic_source(settings: Settings) -> tuple[pd.DataFrame, str, str]:
    """(frame with the target column, target name, where it came from)."""
    from mlflow import MlflowClient

    configure_mlflow(settings)
    mv = champion_version(settings)
    if mv is None:
        frame, target = builtin_breast_cancer()
        return frame, target, "builtin:breast_cancer (no champion in the registry)"
    target = MlflowClient().get_run(mv.run_id).data.tags.get(TARGET_TAG, "target")
    return load_run_frame(mv.run_id), target, f"reference data of {settings.model_name} version {mv.version}"
