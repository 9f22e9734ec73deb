"""`driftline publish` and `driftline simulate`: prediction requests onto the bus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from driftline.common import not_built


def publish(
    csv: Annotated[Path, typer.Option("--csv", help="CSV file; one request per row, columns are features.")],
    rate: Annotated[Optional[float], typer.Option(help="Requests per second (default: as fast as possible).")] = None,
) -> None:
    """Publish one prediction request per CSV row."""
    not_built("publish", 4)


def simulate(
    rows: Annotated[int, typer.Option(help="Requests to send.")] = 2000,
    rate: Annotated[float, typer.Option(help="Requests per second.")] = 200.0,
    drift_at: Annotated[Optional[int], typer.Option("--drift-at", help="Row from which drift is injected.")] = None,
    shift: Annotated[Optional[list[str]], typer.Option(help="FEATURE=SIGMAS mean shift, repeatable.")] = None,
    scale: Annotated[Optional[list[str]], typer.Option(help="FEATURE=FACTOR scale change, repeatable.")] = None,
    label_delay: Annotated[float, typer.Option("--label-delay", help="Seconds before true labels are published.")] = 5.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Traffic drawn from the training data, with drift injected from a row and true labels published late."""
    not_built("simulate", 4)
