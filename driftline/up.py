"""`driftline up`: embedded servers, MLflow UI, a first model, and every service, supervised."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from driftline.services import SERVICES, Service
from infra.bootstrap import prepare
from infra.nats_server import EmbeddedNats
from infra.postgres_server import EmbeddedPostgres
from infra.processes import port_open, spawn, stop, wait_for_port
from infra.settings import Settings

log = logging.getLogger("driftline.up")


@dataclass
class Child:
    name: str
    cmd: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    own_group: bool = False
    extra: dict = field(default_factory=dict)

    def start(self, env: dict[str, str]) -> None:
        self.proc = spawn(self.cmd, log_path=self.log_path, env=env, start_new_session=self.own_group)
        self.started_at = time.monotonic()

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        if self.own_group:  # e.g. the MLflow server forks workers: stop the whole group
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(3)  # the MLflow UI keeps nothing in memory worth waiting for
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        stop(self.proc, signal.SIGTERM, timeout=15)


class Supervisor:
    """Starts everything in order, restarts a crashed service, and stops it all on Ctrl-C or SIGTERM."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.children: list[Child] = []
        self.services: dict[str, Service] = {}

    def _lock(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.data_dir / "up.lock", "w")  # noqa: SIM115 (held for the whole run)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another `driftline up` is running on {self.data_dir}; stop it first") from None

    def child_env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(
            DRIFTLINE_DATA_DIR=str(self.data_dir),
            DRIFTLINE_NATS_URL=s.resolved_nats_url,
            DRIFTLINE_DATABASE_URL=self.dsn,
            DRIFTLINE_MLFLOW_TRACKING_URI=s.resolved_mlflow_uri,
            DRIFTLINE_SUPERVISOR="up",  # the agent's scale_service applies here, and only here
        )
        return env

    def start(self) -> dict[str, str]:
        """Bring everything up; returns where each part is."""
        s = self.settings
        self._lock()
        self.logs.mkdir(parents=True, exist_ok=True)
        where: dict[str, str] = {}
        if s.nats_url is None:
            self.nats = EmbeddedNats(s.nats_store_dir, s.nats_host, s.nats_port, s.nats_sync_interval)
            self.nats.start()
        where["nats"] = s.resolved_nats_url
        if s.database_url is None:
            self.postgres = EmbeddedPostgres(s.postgres_dir, s.postgres_port)
            self.dsn = self.postgres.start()
        else:
            self.dsn = s.database_url
        where["postgres"] = self.dsn
        asyncio.run(prepare(s.resolved_nats_url, self.dsn, s))
        from driftline.cmd_users import ensure_first_admin

        one_time = asyncio.run(ensure_first_admin(self.dsn))
        if one_time:
            where["first admin"] = f"sign in as admin with the one-time password {one_time}"
        (self.data_dir / "mlflow").mkdir(exist_ok=True)
        env = self.child_env()
        if s.mlflow_tracking_uri is None:
            mlflow_ui = Child(
                "mlflow-ui",
                [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", s.resolved_mlflow_uri,
                 "--artifacts-destination", str(s.mlflow_artifacts_dir), "--host", "127.0.0.1",
                 "--port", str(s.mlflow_ui_port), "--workers", "1"],
                self.logs / "mlflow-ui.log", own_group=True,
            )
            mlflow_ui.start(env)
            self.children.append(mlflow_ui)
            where["mlflow ui"] = f"http://127.0.0.1:{s.mlflow_ui_port}"
        first_model = Child("first-model", [sys.executable, "-m", "driftline", "train", "--if-no-champion"],
                            self.logs / "train.log")
        first_model.start(env)
        self.children.append(first_model)
        where["first model"] = f"training if the registry has none (log: {first_model.log_path})"
        for service in SERVICES.values():
            self.services[service.name] = service
            child = Child(service.name, [sys.executable, "-m", "driftline", "serve", service.name],
                          self.logs / f"{service.name}.log", extra={"service": service})
            child.start(env)
            self.children.append(child)
            where[service.name] = service.url(s) if service.url else f"log: {child.log_path}"
        for child in self.children:  # ready means every HTTP endpoint answers
            service: Service | None = child.extra.get("service")
            if service and service.url:
                host, port = service.url(s).split("//")[1].split(":")
                wait_for_port(host, int(port), s.up_ready_s, child.proc, what=service.name)
        # The MLflow UI is for people, not for the loop: do not hold readiness for it.
        if "mlflow ui" in where and not port_open("127.0.0.1", s.mlflow_ui_port):
            where["mlflow ui"] += " (still starting)"
        return where

    def watch(self, stop_flag: list[bool]) -> None:
        """Restart services that die, apply desired replica counts, until asked to stop."""
        env = self.child_env()
        last_scale_check = 0.0
        while not stop_flag[0]:
            for child in list(self.children):
                if child.extra.get("service") and child.proc.poll() is not None and not stop_flag[0]:
                    if child.extra.get("retired"):
                        self.children.remove(child)
                        continue
                    child.restarts += 1
                    log.warning("%s exited with %s; restarting (restart %d)", child.name, child.proc.returncode,
                                child.restarts)
                    time.sleep(min(2**child.restarts, 30) * 0.1)
                    child.start(env)
            if time.monotonic() - last_scale_check > 2:
                last_scale_check = time.monotonic()
                self.apply_scale(env)
            time.sleep(0.2)

    def apply_scale(self, env: dict[str, str]) -> None:
        """Start or stop replicas so each service runs as many processes as service_scale asks."""
        try:
            desired = asyncio.run(_desired_replicas(self.dsn))
        except Exception as exc:  # the database may be restarting; try again next round
            log.debug("scale check failed: %s", exc)
            return
        for name, want in desired.items():
            service = self.services.get(name)
            if service is None:
                continue  # only services this build runs
            running = [c for c in self.children if c.extra.get("service") is service and not c.extra.get("retired")]
            if service.url:
                continue  # HTTP services bind one port: scale them behind a load balancer, not here
            for index in range(len(running), want):
                child = Child(f"{name}#{index + 1}", [sys.executable, "-m", "driftline", "serve", name],
                              self.logs / f"{name}-{index + 1}.log", extra={"service": service})
                child.start(env)
                self.children.append(child)
                log.info("scaled %s up to %d", name, index + 1)
            for child in running[want:]:
                child.extra["retired"] = True
                child.stop()
                log.info("scaled %s down (stopped %s)", name, child.name)

    def shutdown(self) -> None:
        for child in reversed(self.children):
            child.stop()
        if self.postgres:
            self.postgres.stop()
        if self.nats:
            self.nats.stop()


async def _desired_replicas(dsn: str) -> dict[str, int]:
    import asyncpg

    from infra.scale import desired_replicas

    conn = await asyncpg.connect(dsn, timeout=2)
    try:
        return await desired_replicas(conn)
    finally:
        await conn.close()


def up(settings: Settings, echo=print) -> None:
    """Run everything until Ctrl-C or SIGTERM; leave no process behind."""
    supervisor = Supervisor(settings)
    stop_flag = [False]

    def _stop(signum, frame):
        stop_flag[0] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    try:
        where = supervisor.start()
        echo(f"Driftline is up in {time.monotonic() - started:.1f}s (data in {supervisor.data_dir})")
        width = max(len(k) for k in where)
        for name, place in where.items():
            echo(f"  {name:<{width}}  {place}")
        echo("Press Ctrl-C to stop.")
        supervisor.watch(stop_flag)
    finally:
        echo("stopping...")
        supervisor.shutdown()
        echo("stopped.")
