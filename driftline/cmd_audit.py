"""`driftline audit`: prove the log is whole; tell the story of a time range or an incident; which version served
when; rebuild."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Optional

import typer

from driftline.common import DataDir, JsonFlag, connect_bus, connect_db_pool, load_settings, run, usage
from driftline.progress import progress

app = typer.Typer(help="The tamper-evident audit trail: verify, replay, champion at a time, rebuild.", no_args_is_help=True)


@asynccontextmanager
async def _connected(settings, with_db: bool = True, role: str = "cli"):
    bus = await connect_bus(settings, "driftline-audit", "auditor")
    pool = None
    try:
        if with_db:
            pool = await connect_db_pool(settings, max_size=3, role=role)
        yield bus, pool
    finally:
        if pool is not None:
            await pool.close()
        await bus.close()


async def _stream_length(bus) -> int:
    from schemas.streams import AUDIT

    return (await bus.js.stream_info(AUDIT.name)).state.last_seq


@app.command()
def verify(as_json: JsonFlag = False, data_dir: DataDir = None) -> None:
    """Re-read the AUDIT stream, recompute the hash chain, compare it with PostgreSQL and with every head the
    projector signed (checkpoints in the stream, copies in the anchor); exit 1 at the first difference.

    Checkpoint public keys: DRIFTLINE_AUDIT_VERIFY_KEYS, else data_dir/keys/audit-checkpoint.pub (and retired ones).
    Anchor: DRIFTLINE_AUDIT_ANCHOR_DIR, else data_dir/audit-anchor. A forged or malformed checkpoint is listed as
    rejected (it vouches for nothing) without failing the verification by itself."""
    from consumers.audit.anchor import Anchor
    from consumers.audit.signing import checkpoint_keyring
    from consumers.audit.verify import verify as run_verify

    settings = load_settings(data_dir)
    keyring = checkpoint_keyring(settings)

    async def _go():
        async with _connected(settings, role="auditor") as (bus, pool):
            with progress("verifying the audit log", total=await _stream_length(bus)) as bar:
                return await run_verify(bus.js, pool, settings.audit_durable,
                                        on_message=lambda seq: bar.update(completed=seq), keyring=keyring,
                                        anchor=Anchor(settings.anchor_dir))

    verdict = run(_go())
    if as_json:
        typer.echo(json.dumps({"ok": verdict.ok, "checked": verdict.checked, "checkpoints": verdict.checkpoints,
                               "anchored": verdict.anchored, "unanchored": verdict.unanchored,
                               "vouched_up_to": verdict.vouched, "head_hash": verdict.head_hash,
                               "unprojected": verdict.unprojected, "bad_sequence": verdict.bad_seq,
                               "problem": verdict.problem or None,
                               "rejected_checkpoints": [r.as_dict() for r in verdict.rejected],
                               "text": verdict.text()}))
    elif verdict.ok:
        typer.echo(verdict.text())
        for refusal in verdict.rejected:
            typer.secho(f"rejected checkpoint ({refusal.where} sequence {refusal.sequence}): {refusal.reason}",
                        fg=typer.colors.YELLOW, err=True)
    else:
        typer.secho(verdict.text(), fg=typer.colors.RED, err=True)
    if not verdict.ok:
        raise typer.Exit(1)


@app.command("rotate-key")
def rotate_key(as_json: JsonFlag = False, data_dir: DataDir = None) -> None:
    """Replace the projector's checkpoint key in data_dir/keys; the old public key is kept (retired) so that older
    checkpoints still verify. Restart the projector afterwards: it signs with the key it loaded until then."""
    from consumers.audit.signing import rotate

    settings = load_settings(data_dir)
    if settings.audit_checkpoint_key is not None:
        usage("DRIFTLINE_AUDIT_CHECKPOINT_KEY is set: rotate it where it is kept (docs/operations.md, "
              "'The checkpoint key'), not in data_dir/keys")
    old, new = rotate(settings)
    if as_json:
        typer.echo(json.dumps({"retired": old, "current": new, "keys_dir": str(settings.keys_dir)}))
    else:
        typer.echo(f"checkpoint key {old} retired (its public key kept in {settings.keys_dir}); new key {new}. "
                   "Restart the projector to sign with it.")


def _parse_time(text: str | None, flag: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        usage(f"{flag} must be an ISO time such as 2026-01-31T12:00:00Z, not {text!r}")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@app.command()
def replay(
    since: Annotated[Optional[str], typer.Option(help="ISO time to start from.")] = None,
    until: Annotated[Optional[str], typer.Option(help="ISO time to stop at.")] = None,
    correlation: Annotated[Optional[str], typer.Option(help="One incident's correlation id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one per chapter, as they are read.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Tell who did what, when, why and with what outcome, from the stream alone."""
    from consumers.audit.replay import replay as run_replay
    from consumers.audit.replay import table

    settings = load_settings(data_dir)
    start, end = _parse_time(since, "--since"), _parse_time(until, "--until")

    async def _go():
        chapters = []
        async with _connected(settings, with_db=False) as (bus, _):
            with progress("reading the audit stream") as bar:
                async for c in run_replay(bus.js, since=start, until=end, correlation=correlation):
                    bar.advance()
                    if as_json:
                        typer.echo(c.json())
                    else:
                        chapters.append(c)
        return chapters

    chapters = run(_go())
    if not as_json:
        typer.echo(table(chapters) if chapters else "no audit events match")


@app.command()
def champion(
    model: Annotated[Optional[str], typer.Option(help="Registered model name (default: the settings' model).")] = None,
    at: Annotated[Optional[str], typer.Option(help="ISO time: which version was champion then. Without it: every "
                                                   "move of the champion alias, oldest first.")] = None,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
) -> None:
    """Which version served at a time, from the audit trail's promotions and rollbacks (the registry keeps only now)."""
    from consumers.audit.served import champion_at, champion_moves

    settings = load_settings(data_dir)
    name = model or settings.model_name
    when = _parse_time(at, "--at")

    async def _go():
        async with _connected(settings, with_db=False) as (bus, _):
            return await champion_moves(bus.js, name)

    moves = run(_go())
    if when is None:
        if as_json:
            typer.echo(json.dumps([m.json() for m in moves]))
        else:
            for m in moves:
                typer.echo(f"{m.time.isoformat(timespec='seconds')}  version {m.version} {m.how}"
                           f"{f' (from {m.previous})' if m.previous else ''}: {m.reason}  [seq {m.seq}]")
            if not moves:
                typer.echo(f"no champion of {name} recorded in the audit trail")
        return
    found = champion_at(moves, name, when)
    if as_json:
        typer.echo(json.dumps({"model": name, "at": when.isoformat(), "champion": found.json() if found else None}))
    elif found is None:
        typer.echo(f"{name} had no champion at {when.isoformat(timespec='seconds')}")
    else:
        typer.echo(f"version {found.version} of {name} was champion at {when.isoformat(timespec='seconds')}: "
                   f"{found.how} at {found.time.isoformat(timespec='seconds')} ({found.reason}) [seq {found.seq}]")
    if found is None:
        raise typer.Exit(1)


@app.command()
def rebuild(
    keep: Annotated[bool, typer.Option(help="Keep the rebuilt schema for inspection.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Rebuild the audit read models from the stream into a fresh schema; fail if they differ from the live ones."""
    from consumers.audit.rebuild import rebuild as run_rebuild

    settings = load_settings(data_dir)

    async def _go():
        async with _connected(settings) as (bus, pool):
            with progress("rebuilding the audit read models", total=await _stream_length(bus)) as bar:
                return await run_rebuild(bus.js, pool, keep=keep, on_message=lambda seq: bar.update(completed=seq))

    out = run(_go())
    compared = ", ".join(f"{t}: {n} differing rows" for t, n in out.differences.items())
    note = "" if "audit_incidents" in out.differences else " (incidents not compared: the live log is not at the same head)"
    where = f" in schema {out.schema}" if keep else ""
    if not out.equal:
        typer.secho(f"rebuild of {out.events} events{where} DIFFERS from the live read models: {compared}{note}",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"rebuild of {out.events} events{where} equals the live read models ({compared}){note}")
