"""`driftline up`: embedded servers, MLflow UI, a first model, and every service, supervised."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from driftline.cmd_auth import write_credentials
from driftline.services import SERVICES, Service
from infra.bootstrap import prepare
from infra.db_roles import ROLES, provision, read_dsn, write_dsn
from infra.nats_auth import AUDITOR, OPERATOR, AuthDir, inbox_prefix
from infra.nats_server import EmbeddedNats
from infra.postgres_server import EmbeddedPostgres
from infra.processes import port_open, spawn, stop, wait_for_port
from infra.settings import Settings, shown_url

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
        self.role_dsns: dict[str, str] = {}  # one database role per service (infra.db_roles), when set up

    def _lock(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.data_dir / "up.lock", "w")  # noqa: SIM115 (held for the whole run)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another `driftline up` is running on {self.data_dir}; stop it first") from None

    def child_env(self, identity: str | None = None) -> dict[str, str]:
        """The environment of a child; `identity`: the NATS credential it signs in with (its own, nobody else's), and
        the database role it connects as (infra.db_roles; none if it has no role)."""
        s = self.settings
        env = dict(os.environ)
        env.update(
            DRIFTLINE_DATA_DIR=str(self.data_dir),
            DRIFTLINE_NATS_URL=s.resolved_nats_url,
            DRIFTLINE_MLFLOW_TRACKING_URI=s.resolved_mlflow_uri,
            DRIFTLINE_SUPERVISOR="up",  # the agent's scale_service applies here, and only here
        )
        env.pop("DRIFTLINE_DATABASE_URL", None)
        dsn = self.role_dsns.get(identity) if self.role_dsns else self.dsn
        if dsn:
            env["DRIFTLINE_DATABASE_URL"] = dsn
        env.pop("DRIFTLINE_NATS_CREDENTIAL", None)
        if identity:
            env["DRIFTLINE_NATS_CREDENTIAL"] = str(self.auth.seed_file(identity))
        return env

    def start(self) -> dict[str, str]:
        """Bring everything up; returns where each part is."""
        s = self.settings
        self._lock()
        self.logs.mkdir(parents=True, exist_ok=True)
        where: dict[str, str] = {}
        self.auth = AuthDir(s.auth_dir)
        write_credentials(self.auth.path, s)  # kept across runs; the permissions follow the current bus map
        if s.nats_url is None:
            self.nats = EmbeddedNats(s.nats_store_dir, s.nats_host, s.nats_port, s.nats_sync_interval,
                                     auth=self.auth)
            self.nats.start()
            where["nats"] = f"{s.resolved_nats_url} (one credential per service in {self.auth.path})"
        else:
            where["nats"] = (f"{s.resolved_nats_url} (its configuration must include {self.auth.users_file} "
                             "for the services' credentials)")
        where["auditor credential"] = (f"{self.auth.seed_file(AUDITOR)} (reads AUDIT and nothing else; inbox prefix "
                                       f"{inbox_prefix(self.auth.public_key(AUDITOR))})")
        if s.database_url is None:
            self.postgres = EmbeddedPostgres(s.postgres_dir, s.postgres_port, password=_admin_password(s))
            self.dsn = self.postgres.start()
            write_dsn(s.db_auth_dir, "admin", self.dsn)
        else:
            self.dsn = s.database_url
        where["postgres"] = shown_url(self.dsn)
        asyncio.run(prepare(s.resolved_nats_url, self.dsn, s, credential=self.auth.seed_file(OPERATOR)))
        self.role_dsns = asyncio.run(_database_roles(self.dsn, s, embedded=self.postgres is not None))
        where["database roles"] = (f"one per service, credentials in {s.db_auth_dir}" if self.role_dsns else
                                   "one role for every service (set them up: `driftline db roles --help`)")
        from driftline.cmd_users import ensure_first_admin

        one_time = asyncio.run(ensure_first_admin(self.dsn))
        if one_time:
            where["first admin"] = f"sign in as admin with the one-time password {one_time}"
        (self.data_dir / "mlflow").mkdir(exist_ok=True)
        if s.mlflow_tracking_uri is None:
            mlflow_ui = Child(
                "mlflow-ui",
                [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", s.resolved_mlflow_uri,
                 "--artifacts-destination", str(s.mlflow_artifacts_dir), "--host", "127.0.0.1",
                 "--port", str(s.mlflow_ui_port), "--workers", "1"],
                self.logs / "mlflow-ui.log", own_group=True,
            )
            mlflow_ui.start(self.child_env())
            self.children.append(mlflow_ui)
            where["mlflow ui"] = f"http://127.0.0.1:{s.mlflow_ui_port}"
        first_model = Child("first-model", [sys.executable, "-m", "driftline", "train", "--if-no-champion"],
                            self.logs / "train.log")
        first_model.start(self.child_env("trainer"))
        self.children.append(first_model)
        where["first model"] = f"training if the registry has none (log: {first_model.log_path})"
        for service in SERVICES.values():
            self.services[service.name] = service
            child = Child(service.name, [sys.executable, "-m", "driftline", "serve", service.name],
                          self.logs / f"{service.name}.log", extra={"service": service})
            child.start(self.child_env(service.name))
            self.children.append(child)
            where[service.name] = service.url(s) if service.url else f"log: {child.log_path}"
        for child in self.children:  # ready means every HTTP endpoint answers
            service: Service | None = child.extra.get("service")
            if service and service.url:
                host, port = service.url(s).split("//")[1].split(":")
                wait_for_port(host, int(port), 60, child.proc, what=service.name)
        # The MLflow UI is for people, not for the loop: do not hold readiness for it.
        if "mlflow ui" in where and not port_open("127.0.0.1", s.mlflow_ui_port):
            where["mlflow ui"] += " (still starting)"
        return where

    def watch(self, stop_flag: list[bool]) -> None:
        """Restart services that die, apply desired replica counts, until asked to stop."""
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
                    child.start(self.child_env(child.extra["service"].name))
            if time.monotonic() - last_scale_check > 2:
                last_scale_check = time.monotonic()
                self.apply_scale()
            time.sleep(0.2)

    def apply_scale(self) -> None:
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
                child.start(self.child_env(name))
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


def _admin_password(settings: Settings) -> str:
    """The embedded server's superuser password: kept in data_dir/auth/db/admin.dsn, made on the first start."""
    kept = read_dsn(settings.db_auth_dir, "admin")
    password = urlsplit(kept).password if kept else None
    return unquote(password) if password else secrets.token_urlsafe(24)


async def _database_roles(admin_dsn: str, settings: Settings, embedded: bool) -> dict[str, str]:
    """{role: dsn}: on the embedded server, the roles of infra.db_roles made (or brought up to date) now; on a
    configured server, the DSN files an admin wrote with `driftline db roles --apply`, if any."""
    if not embedded:
        return {role: dsn for role in ROLES if (dsn := read_dsn(settings.db_auth_dir, role))}
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        return await provision(conn, admin_dsn, settings.db_auth_dir)
    finally:
        await conn.close()


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
