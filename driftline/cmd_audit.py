"""`driftline audit`: prove the log is whole; tell the story of a time range or an incident; rebuild."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Optional

import typer

from driftline.common import database_dsn, fail, load_settings, run

app = typer.Typer(help="The tamper-evident audit trail: verify, replay and rebuild.", no_args_is_help=True)


@asynccontextmanager
async def _connected(settings, with_db: bool = True):
    from infra.bus import Bus
    from infra.db import connect_pool

    try:
        bus = await Bus.connect(settings.resolved_nats_url, name="driftline-audit")
    except Exception as exc:  # noqa: BLE001 (any failure to connect means the same advice)
        fail(f"cannot reach NATS at {settings.resolved_nats_url} ({exc}); is `driftline up` running?")
    pool = None
    try:
        if with_db:
            try:
                pool = await connect_pool(await database_dsn(settings), max_size=3)
            except OSError as exc:
                fail(f"cannot reach PostgreSQL ({exc}); is `driftline up` running, or DRIFTLINE_DATABASE_URL set?")
        yield bus, pool
    finally:
        if pool is not None:
            await pool.close()
        await bus.close()


@app.command()
def verify() -> None:
    """Re-read the AUDIT stream, recompute the hash chain and compare it with PostgreSQL."""
    from consumers.audit.verify import verify as run_verify

    settings = load_settings()

    async def _go():
        async with _connected(settings) as (bus, pool):
            return await run_verify(bus.js, pool, settings.audit_durable)

    verdict = run(_go())
    if not verdict.ok:
        typer.secho(verdict.text(), fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(verdict.text())


def _parse_time(text: str | None, flag: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{flag} must be an ISO time such as 2026-01-31T12:00:00Z, not {text!r}", code=2)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@app.command()
def replay(
    since: Annotated[Optional[str], typer.Option(help="ISO time to start from.")] = None,
    until: Annotated[Optional[str], typer.Option(help="ISO time to stop at.")] = None,
    correlation: Annotated[Optional[str], typer.Option(help="One incident's correlation id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Tell who did what, when, why and with what outcome, from the stream alone."""
    from consumers.audit.replay import replay as run_replay
    from consumers.audit.replay import table

    settings = load_settings()
    start, end = _parse_time(since, "--since"), _parse_time(until, "--until")

    async def _go():
        chapters = []
        async with _connected(settings, with_db=False) as (bus, _):
            async for c in run_replay(bus.js, since=start, until=end, correlation=correlation):
                if as_json:
                    typer.echo(c.json())
                else:
                    chapters.append(c)
        return chapters

    chapters = run(_go())
    if not as_json:
        typer.echo(table(chapters) if chapters else "no audit events match")


@app.command()
def rebuild(keep: Annotated[bool, typer.Option(help="Keep the rebuilt schema for inspection.")] = False) -> None:
    """Rebuild the audit read models from the stream into a fresh schema; fail if they differ from the live ones."""
    from consumers.audit.rebuild import rebuild as run_rebuild

    settings = load_settings()

    async def _go():
        async with _connected(settings) as (bus, pool):
            return await run_rebuild(bus.js, pool, keep=keep)

    out = run(_go())
    compared = ", ".join(f"{t}: {n} differing rows" for t, n in out.differences.items())
    note = "" if "audit_incidents" in out.differences else " (incidents not compared: the live log is not at the same head)"
    where = f" in schema {out.schema}" if keep else ""
    if not out.equal:
        typer.secho(f"rebuild of {out.events} events{where} DIFFERS from the live read models: {compared}{note}",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"rebuild of {out.events} events{where} equals the live read models ({compared}){note}")
