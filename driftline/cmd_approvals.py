"""`driftline approvals`: decide from the terminal under the same rules as the web page."""

from __future__ import annotations

from typing import Annotated

import typer

from driftline.common import not_built

app = typer.Typer(help="Pending approvals: list, approve, reject.", no_args_is_help=True)


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False) -> None:
    """List approval requests waiting for a decision."""
    not_built("approvals list", 6)


@app.command()
def approve(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_user: Annotated[str, typer.Option("--as", help="Your user name.")],
    comment: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Approve a pending request."""
    not_built("approvals approve", 6)


@app.command()
def reject(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_user: Annotated[str, typer.Option("--as", help="Your user name.")],
    comment: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Reject a pending request (the incident is escalated)."""
    not_built("approvals reject", 6)
