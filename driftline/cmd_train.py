"""`driftline train`: validate, train, track, select, register."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from driftline.common import not_built


def train(
    dataset: Annotated[str, typer.Option(help="builtin:breast_cancer or a CSV file.")] = "builtin:breast_cancer",
    target: Annotated[Optional[str], typer.Option(help="Target column of a CSV data set.")] = None,
    schema: Annotated[Optional[Path], typer.Option(help="Validation schema file (inferred and saved if absent).")] = None,
    if_no_champion: Annotated[bool, typer.Option("--if-no-champion", help="Train only if no champion exists.")] = False,
) -> None:
    """Validate a data set, train four model families, track them in MLflow, register and maybe promote the best."""
    not_built("train", 3)
