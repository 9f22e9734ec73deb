"""`driftline report`: deployment, drift and incident reports as PDF."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from driftline.common import DataDir, check_mlflow, connect_bus, fail, load_settings, run, usage
from driftline.progress import progress

KINDS = ("deployment", "drift", "incident")


def report(
    kind: Annotated[str, typer.Argument(help="deployment, drift or incident.")],
    ident: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="Model version, report or incident id.")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF file to write.")] = Path("report.pdf"),
    data_dir: DataDir = None,
) -> None:
    """Render a report to PDF: deployment [VERSION], drift [EVENT_ID], incident [CORRELATION_ID]."""
    if kind not in KINDS:
        usage(f"unknown report kind {kind!r}; use one of: {', '.join(KINDS)}.")
    if ident is not None:
        from consumers.reports.names import BadReportName, file_name

        try:
            file_name(kind, ident)
        except BadReportName as exc:
            usage(f"ID: {exc}")
    settings = load_settings(data_dir)

    async def _build():
        from consumers.reports.builder import ReportBuilder

        bus = await connect_bus(settings, "driftline-report", "reports")
        try:
            check_mlflow(settings)
            with progress(f"building the {kind} report"):
                return await ReportBuilder(settings, bus.js).build(kind, ident)
        finally:
            await bus.close()

    try:
        built = run(_build())
    except LookupError as exc:
        fail(f"{exc}. Check the id with `driftline audit replay`.")
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.resolve() != built.path.resolve():
        shutil.copyfile(built.path, output)
    typer.echo(f"{kind} report {built.ident} written to {output} (stored copy: {built.path})")
