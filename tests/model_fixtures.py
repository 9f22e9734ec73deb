"""A small registered champion for tests of the parts that serve, watch or repair a model: the benchmarks' own
(bench/champion.py), so that a test and a benchmark measure the same model. The trainer's tests use the real
training pipeline."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from bench.champion import breast_cancer_frame, register_simple_model

MLFLOW_ENVIRONMENT = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextlib.contextmanager
def mlflow_environment_kept() -> Iterator[None]:
    """Puts back MLFLOW_TRACKING_URI and MLFLOW_REGISTRY_URI as they were: mlflow.set_tracking_uri exports its
    store there, and Settings (and every `driftline` child) reads MLFLOW_TRACKING_URI as a fallback, so a store one
    test registered in would become a later test's default."""
    saved = {name: os.environ.get(name) for name in MLFLOW_ENVIRONMENT}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


__all__ = ["MLFLOW_ENVIRONMENT", "breast_cancer_frame", "mlflow_environment_kept", "register_simple_model"]
