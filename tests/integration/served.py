"""A registered champion served two ways, each its own process on a random loopback port: `driftline serve
gateway`, and (for differential tests) MLflow's own `mlflow models serve` on the same registry version."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.nats_server import EmbeddedNats
from infra.processes import free_port, spawn, stop
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "test-key-7f3a"


@dataclass
class Served:
    settings: Settings
    version: str
    gateway: str  # base URL
    mlflow: str | None = None


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLINE_", "MLFLOW_"))}
    env.update(DRIFTLINE_DATA_DIR=str(settings.data_dir), DRIFTLINE_NATS_URL=settings.resolved_nats_url,
               DRIFTLINE_MLFLOW_TRACKING_URI=settings.resolved_mlflow_uri, DRIFTLINE_MODEL_POLL_S="3600",
               MLFLOW_TRACKING_URI=settings.resolved_mlflow_uri, PYTHONPATH=str(ROOT),
               PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", **extra)  # mlflow runs `uvicorn`
    return env


async def _streams(settings: Settings) -> None:
    from infra.bus import Bus
    from infra.streams import ensure_streams

    bus = await Bus.connect(settings.resolved_nats_url, name="test-operator")
    try:
        await ensure_streams(bus.js, settings)
    finally:
        await bus.close()


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise TimeoutError(f"{url} not ready within {timeout}s:\n{log.read_text()[-3000:]}")


def _stop_group(proc: subprocess.Popen) -> None:
    """`mlflow models serve` runs its server as a child: stop the whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def serving(folder: Path, register, *, mlflow: bool = False, **gateway_env: str) -> Iterator[Served]:
    """A nats-server, a registry whose champion `register(settings)` makes (returns the version), the gateway with
    API key API_KEY, and optionally `mlflow models serve` on the same version."""
    nats = EmbeddedNats(folder / "nats", port=free_port(), server_name=f"served-{uuid.uuid4().hex[:6]}")
    nats.start()
    procs: list[tuple[subprocess.Popen, bool]] = []
    try:
        settings = Settings(data_dir=folder / "data", nats_url=nats.url, gateway_port=free_port(),
                            mlflow_tracking_uri=None)  # not an earlier test's store, which MLflow exported
        asyncio.run(_streams(settings))  # the operator's job (services only check that they exist)
        version = register(settings)
        env = _env(settings, DRIFTLINE_GATEWAY_PORT=str(settings.gateway_port), DRIFTLINE_API_KEYS=f'["{API_KEY}"]',
                   **gateway_env)
        log = folder / "gateway.log"
        gateway = spawn([sys.executable, "-m", "driftline", "serve", "gateway"], cwd=ROOT, env=env, log_path=log)
        procs.append((gateway, False))
        served = Served(settings, version, f"http://127.0.0.1:{settings.gateway_port}")
        if mlflow:
            port = free_port()
            mlflow_log = folder / "mlflow.log"
            proc = spawn([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                          f"models:/{settings.model_name}/{version}", "--env-manager", "local", "-h", "127.0.0.1",
                          "-p", str(port), "-w", "1"], cwd=ROOT, env=env, log_path=mlflow_log, start_new_session=True)
            procs.append((proc, True))
            served.mlflow = f"http://127.0.0.1:{port}"
            wait_http(f"{served.mlflow}/ping", proc, mlflow_log)
        wait_http(f"{served.gateway}/v2/health/ready", gateway, log)
        yield served
    finally:
        for proc, group in reversed(procs):
            _stop_group(proc) if group else stop(proc)
        nats.stop()
