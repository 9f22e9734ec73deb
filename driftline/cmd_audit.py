"""`driftline audit`: prove the log is whole; tell the story of a time range or an incident."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from driftline.common import not_built

app = typer.Typer(help="The tamper-evident audit trail: verify and replay.", no_args_is_help=True)


@app.command()
def verify() -> None:
    """Re-read the AUDIT stream, recompute the hash chain and compare it with PostgreSQL."""
    not_built("audit verify", 7)


@app.command()
def replay(
    since: Annotated[Optional[str], typer.Option(help="ISO time to start from.")] = None,
    correlation: Annotated[Optional[str], typer.Option(help="One incident's correlation id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Tell who did what, when, why and with what outcome, from the stream alone."""
    not_built("audit replay", 7)
