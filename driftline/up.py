"""`driftline up`: embedded servers, MLflow UI, a first model, and every service, supervised; the banner ends with
three commands to try."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from driftline import mlflow_store, try_it
from driftline.cmd_auth import write_credentials
from driftline.mlflow_ui import MlflowUi
from driftline.services import SERVICES, Service
from infra import tracing
from infra.bootstrap import prepare
from infra.db_roles import ROLES, provision, read_dsn, write_dsn
from infra.local_monitoring import INSTALL_HINT, LocalMonitoring
from infra.nats_auth import AUDITOR, OPERATOR, AuthDir, inbox_prefix
from infra.nats_server import EmbeddedNats
from infra.postgres_server import EmbeddedPostgres
from infra.processes import free_port, port_open, spawn, stop, wait_for_port
from infra.settings import Settings, shown_url

log = logging.getLogger("driftline.up")
# Ready means every HTTP endpoint answers. Seven services importing at once took over 60 s on this 2-core machine
# while others ran test suites (10 s when it is quiet): wait long enough for a loaded machine, then say who is late.
READY_WAIT_S = 180.0


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
        env = {**env, **self.extra.get("env", {})}  # e.g. a replica's own metrics port
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

    def __init__(self, settings: Settings, echo=print):
        self.settings, self.echo = settings, echo
        self.data_dir = settings.data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.children: list[Child] = []
        self.services: dict[str, Service] = {}
        self.monitoring = LocalMonitoring(settings, self.data_dir) if settings.local_monitoring else None
        self.alertmanager_token: str | None = None
        self.first_model: Child | None = None
        self.one_time: str | None = None
        self.mlflow_ui = MlflowUi(settings, self._start_mlflow_ui)
        self._told = False  # the commands to try are printed once, when the first model is there
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
        if self.alertmanager_token:  # the gateway accepts the Alertmanager that `up` started
            env["DRIFTLINE_ALERTMANAGER_TOKEN"] = self.alertmanager_token
        return env

    def start(self) -> dict[str, str]:
        """Bring everything up; returns where each part is."""
        s = self.settings
        self._lock()
        self.logs.mkdir(parents=True, exist_ok=True)
        store = mlflow_store.start(s, dict(os.environ) | {"DRIFTLINE_DATA_DIR": str(self.data_dir),
                                                          "DRIFTLINE_MLFLOW_TRACKING_URI": s.resolved_mlflow_uri})
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
        self.one_time = one_time
        if one_time:
            where["first admin"] = f"sign in as admin with the one-time password {one_time}"
        (self.data_dir / "mlflow").mkdir(exist_ok=True)
        if self.monitoring and not self.monitoring.missing:
            self.alertmanager_token = self.monitoring.alertmanager_token()
        env = self.child_env()
        mlflow_store.finish(store)
        ui_where = self.mlflow_ui.open()
        if ui_where:
            where["mlflow ui"] = ui_where
        first_model = Child("first-model", [sys.executable, "-m", "driftline", "train", "--if-no-champion"],
                            self.logs / "train.log")
        first_model.start(self.child_env("trainer"))
        self.children.append(first_model)
        self.first_model = first_model
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
                wait_for_port(host, int(port), READY_WAIT_S, child.proc, what=service.name)
        # The MLflow UI is for people, not for the loop: do not hold readiness for it.
        if s.mlflow_ui == "on" and "mlflow ui" in where and not port_open("127.0.0.1", s.mlflow_ui_port):
            where["mlflow ui"] += " (still starting)"
        where.update(self.start_monitoring(env))
        where["traces"] = tracing.described(env)
        return where

    def start_monitoring(self, env: dict[str, str]) -> dict[str, str]:
        """Alertmanager, then Prometheus with the project's rules, scraping every service (banner lines)."""
        m, s = self.monitoring, self.settings
        if m is None:
            return {}
        if m.missing:
            return {"prometheus": f"not started: {' and '.join(m.missing)} not installed ({INSTALL_HINT}); "
                                  "the serving alerts and the scale action need them"}
        m.write(self.alertmanager_token, self.worker_metrics_ports())
        for name, cmd, port in (("alertmanager", m.alertmanager_cmd(), s.alertmanager_port),
                                ("prometheus", m.prometheus_cmd(), s.prometheus_port)):
            child = Child(name, cmd, self.logs / f"{name}.log")
            child.start(env)
            self.children.append(child)
            wait_for_port("127.0.0.1", port, 30, child.proc, what=name)
        return {"prometheus": f"http://127.0.0.1:{s.prometheus_port} (rules: infra/prometheus/rules.yml)",
                "alertmanager": f"http://127.0.0.1:{s.alertmanager_port} (to the gateway's /webhooks/alertmanager)"}

    def worker_metrics_ports(self) -> list[int]:
        ports = [int(c.extra.get("env", {}).get("DRIFTLINE_WORKER_METRICS_PORT", self.settings.worker_metrics_port))
                 for c in self.children if c.name.split("#")[0] == "worker" and not c.extra.get("retired")]
        return [p for p in ports if p]

    def _start_mlflow_ui(self, cmd: list[str], extra_env: dict[str, str]) -> Child:
        child = Child("mlflow-ui", cmd, self.logs / "mlflow-ui.log", own_group=True)
        child.start(self.child_env() | extra_env)
        for old in [c for c in self.children if c.name == "mlflow-ui"]:  # one that died: its successor replaces it
            self.children.remove(old)
        self.children.append(child)
        return child

    def tell_what_to_try(self) -> None:
        """Once the first model is there: three commands to paste, made from the champion itself."""
        if self._told or self.first_model is None or self.first_model.proc.poll() is None:
            return
        self._told = True
        if self.first_model.proc.returncode != 0:
            self.echo(f"The first model could not be trained; see {self.first_model.log_path}.")
            return
        threading.Thread(target=try_it.announce, args=(self.settings, self.child_env(), self.data_dir,
                                                       self.one_time, self.echo), name="try-it", daemon=True).start()

    def watch(self, stop_flag: list[bool]) -> None:
        """Restart services that die, apply desired replica counts, until asked to stop."""
        last_scale_check = 0.0
        while not stop_flag[0]:
            self.tell_what_to_try()
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
                # Its own /metrics port: Prometheus scrapes each replica (one port per process on one machine).
                own = {f"DRIFTLINE_{name.upper()}_METRICS_PORT": str(free_port())} \
                    if getattr(self.settings, f"{name}_metrics_port", None) else {}
                child = Child(f"{name}#{index + 1}", [sys.executable, "-m", "driftline", "serve", name],
                              self.logs / f"{name}-{index + 1}.log", extra={"service": service, "env": own})
                child.start(self.child_env(name))
                self.children.append(child)
                log.info("scaled %s up to %d", name, index + 1)
            for child in running[want:]:
                child.extra["retired"] = True
                child.stop()
                log.info("scaled %s down (stopped %s)", name, child.name)
            if name == "worker" and len(running) != want and self.monitoring and not self.monitoring.missing:
                self.monitoring.write_workers(self.worker_metrics_ports())

    def shutdown(self) -> None:
        self.mlflow_ui.close()
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
    supervisor = Supervisor(settings, echo)
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
        if supervisor.first_model and supervisor.first_model.proc.poll() is None:
            echo("The first model is training; the commands to try follow when it is ready.")
        supervisor.watch(stop_flag)
    finally:
        echo("stopping...")
        supervisor.shutdown()
        echo("stopped.")
