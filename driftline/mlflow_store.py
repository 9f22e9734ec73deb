"""The local MLflow store made (or migrated) once, before anything uses it. Several processes opening a fresh SQLite
store at once race in its migrations ("table _alembic_tmp_experiments already exists"): `up` runs this first, in a
short-lived process (MLflow stays out of the supervisor), at the same time as NATS and PostgreSQL start."""

from __future__ import annotations

import subprocess
import sys

from infra.settings import Settings

INIT = ("from infra.settings import Settings; from infra.models import configure_mlflow; import mlflow; "
        "configure_mlflow(Settings()); c = mlflow.MlflowClient(); c.search_experiments(max_results=1); "
        "c.search_registered_models(max_results=1)")


def start(settings: Settings, env: dict[str, str]) -> subprocess.Popen | None:
    """Begin making the store; None when MLflow is a server of its own (it migrates itself)."""
    if settings.mlflow_tracking_uri is not None:
        return None
    return subprocess.Popen([sys.executable, "-c", INIT], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen | None, timeout: float = 300.0) -> None:
    """Wait for the store; a failure says why (its last lines), since nothing after it can work."""
    if proc is None:
        return
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise RuntimeError(f"the local MLflow store was not ready within {timeout:.0f}s") from None
    if proc.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise RuntimeError(f"the local MLflow store could not be made: {tail}")
