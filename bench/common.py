"""What both benchmarks need: a temp data dir with a nats-server and a registered champion, and child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.nats_server import EmbeddedNats  # noqa: E402
from infra.processes import free_port, spawn, stop  # noqa: E402
from infra.settings import Settings  # noqa: E402


class Stage:
    """A temp data dir, a nats-server and a champion in a SQLite MLflow store; stops everything it started."""

    def __init__(self, model: str = "simple", sync_interval: str = "always"):
        self.tmp = Path(tempfile.mkdtemp(prefix="driftline-bench-"))
        self.nats = EmbeddedNats(self.tmp / "nats", port=free_port(), server_name="bench", sync_interval=sync_interval)
        self.children: list[subprocess.Popen] = []
        self.model = model

    def __enter__(self) -> Stage:
        self.nats.start()
        self.settings = Settings(data_dir=self.tmp / "data", nats_url=self.nats.url, gateway_port=free_port())
        provision_streams(self.settings)
        self.version = register(self.settings, self.model)
        return self

    def __exit__(self, *exc) -> None:
        for child in reversed(self.children):
            try:
                os.killpg(child.pid, 15)
                child.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                stop(child)
        self.nats.stop()

    def env(self, **extra) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ, DRIFTLINE_DATA_DIR=str(s.data_dir), DRIFTLINE_NATS_URL=s.resolved_nats_url,
                   DRIFTLINE_MLFLOW_TRACKING_URI=s.resolved_mlflow_uri, DRIFTLINE_GATEWAY_PORT=str(s.gateway_port),
                   DRIFTLINE_LOG_LEVEL="WARNING", MLFLOW_TRACKING_URI=s.resolved_mlflow_uri, PYTHONPATH=str(ROOT),
                   PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")  # mlflow serve runs `uvicorn`
        env.update(extra)
        return env

    def start(self, name: str, cmd: list[str], **env) -> subprocess.Popen:
        child = spawn(cmd, log_path=self.tmp / f"{name}.log", env=self.env(**env), cwd=ROOT, start_new_session=True)
        self.children.append(child)
        return child


def provision_streams(settings: Settings) -> None:
    """The streams, as the operator provisions them (`driftline up` runs `driftline streams ensure`): services only
    check that they exist, and a gateway or worker refuses to start without them."""
    import asyncio

    from infra.bus import Bus
    from infra.streams import ensure_streams

    async def _ensure() -> None:
        bus = await Bus.connect(settings.resolved_nats_url, name="bench-operator")
        try:
            await ensure_streams(bus.js, settings)
        finally:
            await bus.close()

    asyncio.run(_ensure())


def register(settings: Settings, model: str) -> str:
    """The champion both peers serve: bench/champion.py's logistic regression, or the trainer's real champion."""
    if model == "trained":
        from trainer.api import train

        train(settings)
        from infra.models import champion_version, configure_mlflow

        configure_mlflow(settings)
        return str(champion_version(settings).version)
    from bench.champion import register_simple_model

    return register_simple_model(settings)


def sample_record() -> dict:
    from bench.champion import breast_cancer_frame

    return breast_cancer_frame().drop(columns="target").iloc[7].to_dict()


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120, method: str = "GET", **kwargs) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.request(method, url, timeout=2, **kwargs).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} not ready within {timeout}s")


def run_with_load_report(main) -> None:
    """Run a benchmark under uvloop, printing the machine's load before and after (figures here are shared-CPU)."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    one, five, fifteen = os.getloadavg()
    print(f"machine load average (1, 5, 15 min) before: {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores")
    main()
    one, five, fifteen = os.getloadavg()
    print(f"machine load average (1, 5, 15 min) after:  {one:.1f} {five:.1f} {fifteen:.1f}")
