"""`driftline users`: people who may sign in to the approval page."""

from __future__ import annotations

from typing import Annotated

import typer

from driftline.common import database_dsn, fail, load_settings, run

app = typer.Typer(help="Approval page users.", no_args_is_help=True)


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="viewer, approver or admin.")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Set the password from the first line of "
                                                 "stdin instead of printing a one-time password.")] = False,
) -> None:
    """Add a user and print a one-time password (they choose their own at first sign-in)."""
    import sys

    from infra.db import connect_pool
    from infra.users import add_user

    settings = load_settings()
    chosen = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and len(chosen) < 10:
        fail("a password has at least 10 characters", code=2)

    async def _go() -> str:
        pool = await connect_pool(await database_dsn(settings), max_size=1)
        try:
            async with pool.acquire() as conn:
                return await add_user(conn, name, role, chosen)
        finally:
            await pool.close()

    try:
        password = run(_go())
    except ValueError as exc:
        fail(str(exc), code=2)
    except OSError as exc:
        fail(f"cannot reach PostgreSQL ({exc}); is `driftline up` running, or DRIFTLINE_DATABASE_URL set?")
    if chosen:
        typer.echo(f"added {name} ({role}) with the password you gave")
    else:
        typer.echo(f"added {name} ({role}); one-time password: {password}")


async def ensure_first_admin(dsn: str, name: str = "admin") -> str | None:
    """Create an admin with a one-time password when nobody can sign in yet; returns that password."""
    import asyncpg

    from infra.users import add_user

    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE users IN EXCLUSIVE MODE")  # two starts at once make one admin
            if await conn.fetchval("SELECT count(*) FROM users"):
                return None
            return await add_user(conn, name, "admin")
    finally:
        await conn.close()
