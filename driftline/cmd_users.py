"""`driftline users`: people who may sign in to the approval page."""

from __future__ import annotations

from typing import Annotated

import typer

from driftline.common import not_built

app = typer.Typer(help="Approval page users.", no_args_is_help=True)


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="viewer, approver or admin.")] = "viewer",
) -> None:
    """Add a user and print a one-time password."""
    not_built("users add", 7)
