"""Driftline services as real child processes (`python -m driftline serve NAME`) that a fault test can kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from infra.settings import Settings
from tests.faults.harness import ROOT


def service_env(settings: Settings, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment `driftline up` gives a service, with short redelivery so a test stays bounded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(
        DRIFTLINE_DATA_DIR=str(settings.data_dir),
        DRIFTLINE_NATS_URL=settings.resolved_nats_url,
        DRIFTLINE_MLFLOW_TRACKING_URI=settings.resolved_mlflow_uri,
        DRIFTLINE_ACK_WAIT_S="3",
        DRIFTLINE_BACKOFF_S="[0.1, 0.2, 0.5]",
        DRIFTLINE_LOG_LEVEL="WARNING",
    )
    if database_url:
        env["DRIFTLINE_DATABASE_URL"] = database_url
    env.update(extra)
    return env


class ServiceProcess:
    """One `driftline serve NAME` child; kill() is SIGKILL, as a crash would be."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, label: str | None = None):
        self.name, self.env = name, env
        self.log_path = Path(log_dir) / f"{label or name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 (owned by the child)
        self.proc = subprocess.Popen([sys.executable, "-m", "driftline", "serve", self.name], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""
