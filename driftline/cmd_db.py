"""`driftline db`: the schema migrations, and one PostgreSQL role per service with only the grants it needs."""

from __future__ import annotations

import json
from typing import Annotated, Optional
from urllib.parse import urlsplit

import typer

from driftline.common import DataDir, JsonFlag, fail, load_settings, run

app = typer.Typer(help="The database: schema migrations and one role per service (least privilege).",
                  no_args_is_help=True)


def _admin_dsn(settings) -> str:
    """The admin's DSN: DRIFTLINE_DATABASE_URL, else the embedded server's admin credential `driftline up` keeps."""
    from infra.db_roles import read_dsn

    dsn = settings.database_url or read_dsn(settings.db_auth_dir, "admin")
    if not dsn:
        fail("no admin credential: set DRIFTLINE_DATABASE_URL to a DSN of the database's owner (or a role that may "
             "create roles), or use the data directory of `driftline up` (--data-dir).")
    return dsn


async def _admin(dsn: str):
    import asyncpg

    from driftline.common import CONNECT_DEADLINE_S
    from infra.settings import shown_url

    try:
        return await asyncpg.connect(dsn, timeout=CONNECT_DEADLINE_S * 2)
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot reach PostgreSQL at {shown_url(dsn)} as its admin ({exc}).")


@app.command()
def migrate(as_json: JsonFlag = False, data_dir: DataDir = None) -> None:
    """Apply the schema migrations as the admin (services' own roles only check that the schema is current)."""
    from infra.db import migrate as run_migrate

    settings = load_settings(data_dir)

    async def _go() -> list[int]:
        conn = await _admin(_admin_dsn(settings))
        try:
            return await run_migrate(conn)
        finally:
            await conn.close()

    applied = run(_go())
    typer.echo(json.dumps({"applied": applied}) if as_json else
               f"applied migrations {', '.join(map(str, applied))}" if applied else "the schema is up to date")


@app.command()
def roles(
    apply: Annotated[bool, typer.Option("--apply", help="Run it as the admin (DRIFTLINE_DATABASE_URL): migrate, "
                                        "create or update the roles with passwords, and write one DSN per role into "
                                        "DATA_DIR/auth/db/<role>.dsn.")] = False,
    database: Annotated[Optional[str], typer.Option(help="Database the grants are on (printing only); default: the "
                                                    "one in DRIFTLINE_DATABASE_URL, else driftline.")] = None,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
) -> None:
    """Print the SQL that makes one role per service (projector, monitor, notifier, agent, ui, cli, auditor) with only
    the grants its code needs, for an admin to run with psql; --apply runs it. Roles own nothing: the tables stay the
    admin's, so no service can disable the audit log's triggers or write a table that is not its own."""
    from infra.db_roles import ROLES, provision, role_name, role_sql

    settings = load_settings(data_dir)
    if not apply:
        url = settings.database_url or ""
        name = database or (urlsplit(url).path.lstrip("/") if url else "") or "driftline"
        statements = role_sql(name)
        if as_json:
            typer.echo(json.dumps({"database": name, "roles": {r: role_name(r) for r in ROLES},
                                   "statements": statements}))
            return
        typer.echo(f"-- Driftline database roles on {name}: run as the database's owner, e.g. psql -f roles.sql\n"
                   "-- Then give each role a password (psql: \\password driftline_agent) and each service its DSN\n"
                   "-- (DRIFTLINE_DATABASE_URL). Re-run after every upgrade: new tables get their grants.")
        for role, spec in ROLES.items():
            typer.echo(f"--   {role_name(role)}: {spec.summary}")
        typer.echo(";\n".join(statements) + ";")
        return
    dsn = _admin_dsn(settings)

    async def _go() -> dict[str, str]:
        from infra.db import migrate as run_migrate

        conn = await _admin(dsn)
        try:
            await run_migrate(conn)
            return await provision(conn, dsn, settings.db_auth_dir)
        finally:
            await conn.close()

    dsns = run(_go())
    files = {role: str(settings.db_auth_dir / f"{role}.dsn") for role in dsns}
    if as_json:
        typer.echo(json.dumps({"roles": {r: role_name(r) for r in dsns}, "files": files}))
        return
    typer.echo(f"{len(dsns)} roles set up; each one's DSN (with its password) is in {settings.db_auth_dir}/<role>.dsn "
               "(mode 0600): give each service its own as DRIFTLINE_DATABASE_URL.")
