"""The MLflow UI under `driftline up`: started at once (`on`), on the first visit to its port (`lazy`, the default),
or not at all (`off`). Either way one process with one worker, without MLflow's job runner."""

from __future__ import annotations

import sys
from collections.abc import Callable

from driftline.lazy_port import LazyPort
from infra.processes import free_port, wait_for_port
from infra.settings import Settings

READY_WAIT_S = 180.0


def command(settings: Settings, port: int) -> list[str]:
    """MLflow's tracking server app under uvicorn, one process. `mlflow server --workers 1` runs the same app in a
    uvicorn child of its own CLI process (two processes of ~250 MB each, measured with bench/soak.py)."""
    return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "mlflow.server.fastapi_app:app"]


def environment(settings: Settings) -> dict[str, str]:
    """What `mlflow server` hands its app (mlflow/server/__init__.py, _run_server; the names are checked against
    MLflow's own in tests/unit/test_mlflow_ui.py): the stores, artifacts served from the data dir, and no job runner
    (GenAI evaluation jobs, a third process this loop never uses)."""
    uri = settings.resolved_mlflow_uri
    return {"_MLFLOW_SERVER_FILE_STORE": uri, "_MLFLOW_SERVER_REGISTRY_STORE": uri,
            "_MLFLOW_SERVER_ARTIFACT_ROOT": "mlflow-artifacts:/", "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true",
            "_MLFLOW_SERVER_ARTIFACT_DESTINATION": str(settings.mlflow_artifacts_dir), "_MLFLOW_SGI_NAME": "uvicorn",
            "_MLFLOW_IN_JOB_EXECUTOR": "false", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class MlflowUi:
    """Owns the UI's process (started through `start_child(port)`, which returns the child up supervises)."""

    def __init__(self, settings: Settings, start_child: Callable[[list[str], dict[str, str]], object]):
        self.settings, self.start_child = settings, start_child
        self.child = None
        self.port = settings.mlflow_ui_port
        self.lazy: LazyPort | None = None

    def open(self) -> str | None:
        """Start (or arm) the UI; returns where it is, in words, or None when it is off."""
        s = self.settings
        if s.mlflow_tracking_uri is not None or s.mlflow_ui == "off":
            return None
        where = f"http://127.0.0.1:{s.mlflow_ui_port}"
        if s.mlflow_ui == "on":
            self.child = self.start_child(command(s, self.port), environment(s))
            return where
        try:
            self.lazy = LazyPort("127.0.0.1", s.mlflow_ui_port, self._on_first_visit, "MLflow UI")
        except OSError as exc:
            raise RuntimeError(f"the MLflow UI's port {s.mlflow_ui_port} is taken ({exc.strerror}); set "
                               "DRIFTLINE_MLFLOW_UI_PORT, or DRIFTLINE_MLFLOW_UI=off") from None
        self.lazy.open()
        return where + " (starts on your first visit, in about 20 s)"

    def _alive(self) -> bool:
        proc = getattr(self.child, "proc", None)
        return proc is not None and proc.poll() is None

    def _on_first_visit(self) -> tuple[str, int]:
        """The lazy port's start: the UI on a private port, once (again if it died)."""
        if not self._alive():
            self.port = free_port()
            self.child = self.start_child(command(self.settings, self.port), environment(self.settings))
            wait_for_port("127.0.0.1", self.port, READY_WAIT_S, self.child.proc, what="the MLflow UI")
        return "127.0.0.1", self.port

    def close(self) -> None:
        if self.lazy:
            self.lazy.close()
