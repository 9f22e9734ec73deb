"""`driftline report`: deployment, drift and incident reports as PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from driftline.common import not_built


def report(
    kind: Annotated[str, typer.Argument(help="deployment, drift or incident.")],
    ident: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="Model version, report or incident id.")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF file to write.")] = Path("report.pdf"),
) -> None:
    """Render a report to PDF."""
    not_built("report", 8)
