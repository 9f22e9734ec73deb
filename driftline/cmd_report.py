"""`driftline report`: deployment, drift and incident reports as PDF."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from driftline.common import fail, load_settings, run

KINDS = ("deployment", "drift", "incident")


def report(
    kind: Annotated[str, typer.Argument(help="deployment, drift or incident.")],
    ident: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="Model version, report or incident id.")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF file to write.")] = Path("report.pdf"),
) -> None:
    """Render a report to PDF: deployment [VERSION], drift [EVENT_ID], incident [CORRELATION_ID]."""
    if kind not in KINDS:
        fail(f"unknown report kind {kind!r}; use one of: {', '.join(KINDS)}.")
    settings = load_settings()

    async def _build():
        from consumers.reports.builder import ReportBuilder
        from infra.bus import Bus
        from infra.models import configure_mlflow

        configure_mlflow(settings)
        try:
            bus = await asyncio.wait_for(Bus.connect(settings.resolved_nats_url, name="driftline-report"), 10)
        except Exception as exc:
            fail(f"cannot reach NATS at {settings.resolved_nats_url} ({exc}); start `driftline up` or set "
                 "DRIFTLINE_NATS_URL.")
        try:
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
