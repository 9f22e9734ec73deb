"""What every command shares: settings from flags, failing with advice, and connections that fail fast.

Exit codes, the same for every command: 0 done; 1 failed (a server unreachable, a check that did not pass);
2 usage (a wrong flag or value, a bad setting; click's own usage errors exit 2 as well).
A one-shot command gives up on a server within CONNECT_DEADLINE_S and says which and what to do; the services
that `up` and `serve` start keep reconnecting forever instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, NoReturn, Optional
from urllib.parse import urlsplit

import typer

from infra.settings import Settings, shown_url

USAGE = 2
FAILED = 1
CONNECT_DEADLINE_S = 2.5  # with ~1-2 s of start-up, a person waits under 5 s to hear a server is not there

DataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="Data directory: JetStream store, PostgreSQL data, MLflow store, reports "
    "(DRIFTLINE_DATA_DIR; default ./.driftline).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (progress stays on stderr).")]


def load_settings(data_dir: Path | None = None, **overrides) -> Settings:
    """Settings from flags, then DRIFTLINE_* variables, then `.env`; a bad value is one line naming the variable."""
    from pydantic import ValidationError

    from infra.logs import configure_logging, secrets_of

    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{_variable(err['loc'])}: {err['msg']}" for err in exc.errors())
        fail(f"bad setting: {problems}", code=USAGE)
    configure_logging(settings.log_level, settings.log_json, secrets=secrets_of(settings))
    return settings


def _variable(loc: tuple) -> str:
    name = ".".join(str(p) for p in loc)
    return name if name.isupper() else f"DRIFTLINE_{name.upper()}"  # an alias (MLFLOW_TRACKING_URI) is named as is


def fail(message: str, code: int = FAILED) -> NoReturn:
    """Print an error that says what to do, and exit non-zero."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def usage(message: str) -> NoReturn:
    """A wrong flag or value: exit 2, as click does for its own usage errors."""
    fail(message, code=USAGE)


def run(coro):
    return asyncio.run(coro)


def _reason(exc: BaseException) -> str:
    exc = getattr(exc, "reason", None) if isinstance(getattr(exc, "reason", None), BaseException) else exc  # URLError
    if isinstance(exc, TimeoutError):  # asyncio's too, since Python 3.11
        return f"no answer within {CONNECT_DEADLINE_S:g} s"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def connect_bus(settings: Settings, name: str, identity: str):
    """The bus for a one-shot command, signed in as `identity` (its role: producers, trainer, reports, auditor,
    operator), or exit 1 within CONNECT_DEADLINE_S naming the NATS server."""
    from nats.errors import AuthorizationError

    from infra.bus import Bus
    from infra.nats_auth import credential_for

    url = settings.resolved_nats_url
    credential = credential_for(settings, identity, warn=False)  # a refusal names it in the one error line
    try:
        return await asyncio.wait_for(Bus.connect(url, name=name, one_shot=True, credential=credential),
                                      CONNECT_DEADLINE_S)
    except Exception as exc:  # noqa: BLE001 (refused, timed out, no servers, bad credentials: each said)
        if isinstance(exc, AuthorizationError) or "authorization" in str(exc).lower():
            fail(f"NATS at {shown_url(url)} refused the {identity} credential "
                 f"({credential or 'none found'}); point DRIFTLINE_NATS_CREDENTIAL at the {identity} seed, or use "
                 f"the data directory `driftline up` made ({settings.auth_dir}/{identity}.nk).")
        fail(f"cannot reach NATS at {shown_url(url)} ({_reason(exc)}); start it with `driftline up` "
             "or point DRIFTLINE_NATS_URL at a running server.")


async def database_dsn(settings: Settings, role: str) -> str:
    """The PostgreSQL DSN of a process's own role (infra.db_roles): DATA_DIR/auth/db/<role>.dsn when there (written
    by `driftline up` for its embedded server, or by `driftline db roles --apply`), else DRIFTLINE_DATABASE_URL
    (a deployment gives each service its own), else the embedded server as that role (which then asks for the
    password the file would hold)."""
    from infra.db_roles import read_dsn, role_name

    kept = read_dsn(settings.db_auth_dir, role)
    if kept:
        return kept
    if settings.database_url:
        return settings.database_url
    return f"postgresql://{role_name(role)}@127.0.0.1:{settings.postgres_port}/driftline"


def _db_failure(settings: Settings, role: str, dsn: str, exc: BaseException) -> NoReturn:
    from infra.db_roles import dsn_file

    hint = ""
    if not settings.database_url and not dsn_file(settings.db_auth_dir, role).exists():
        hint = f" (no credential for role {role} in {settings.db_auth_dir}: is this `driftline up`'s data directory?)"
    fail(f"cannot reach PostgreSQL at {shown_url(dsn)} ({_reason(exc)}){hint}; start it with `driftline up` "
         "or point DRIFTLINE_DATABASE_URL at a running server.")


async def connect_db(settings: Settings, role: str = "cli"):
    """One asyncpg connection for a one-shot command, or exit 1 within CONNECT_DEADLINE_S naming the server."""
    import asyncpg

    dsn = await database_dsn(settings, role)
    try:
        return await asyncpg.connect(dsn, timeout=CONNECT_DEADLINE_S)
    except Exception as exc:  # noqa: BLE001
        _db_failure(settings, role, dsn, exc)


async def connect_db_pool(settings: Settings, max_size: int = 3, role: str = "cli"):
    """A small pool on an up-to-date database for a one-shot command, or exit 1 within CONNECT_DEADLINE_S naming the
    server (or saying the database needs `driftline db migrate`)."""
    import asyncpg

    from infra.db import NotMigrated, migrate

    dsn = await database_dsn(settings, role)
    try:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, timeout=CONNECT_DEADLINE_S)
    except Exception as exc:  # noqa: BLE001
        _db_failure(settings, role, dsn, exc)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
    except NotMigrated as exc:
        await pool.close()
        fail(str(exc))
    return pool


def check_mlflow(settings: Settings) -> str:
    """Point MLflow at the configured store; a tracking server must answer /health within CONNECT_DEADLINE_S.

    Without this a command would wait out MLflow's own retries (minutes) against a server that is not there. The
    probe comes before MLflow is imported (seconds), so a server that is down is said at once.
    """
    from urllib.request import urlopen  # not httpx: its import alone costs half a second on a busy machine

    uri = settings.resolved_mlflow_uri
    if urlsplit(uri).scheme in ("http", "https"):
        try:
            with urlopen(uri.rstrip("/") + "/health", timeout=CONNECT_DEADLINE_S):  # raises on 4xx/5xx too
                pass
        except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
            fail(f"cannot reach MLflow at {shown_url(uri)} ({_reason(exc)}); start the tracking server or point "
                 "DRIFTLINE_MLFLOW_TRACKING_URI (or MLFLOW_TRACKING_URI) at a running one.")
    from infra.models import configure_mlflow

    return configure_mlflow(settings)
