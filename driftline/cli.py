"""The `driftline` command: one entry point for running, training, producing, deciding and auditing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from driftline import (
    cmd_approvals,
    cmd_audit,
    cmd_auth,
    cmd_db,
    cmd_deploy,
    cmd_produce,
    cmd_report,
    cmd_streams,
    cmd_train,
    cmd_users,
)
from driftline.common import DataDir, fail, load_settings, usage

app = typer.Typer(
    name="driftline",
    help="Driftline: an event-driven MLOps control loop on NATS JetStream.\n\n"
    "Train a classifier, serve it, watch it for drift, and repair it: safe actions at once, risky ones "
    "after a person approves. Every setting is also a DRIFTLINE_* environment variable, or a line of a .env file "
    "in the current folder. Exit codes: 0 done, 1 failed (e.g. a server unreachable), 2 usage error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"driftline {version('driftline')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False,
) -> None:
    """Driftline: an event-driven MLOps control loop on NATS JetStream."""

schemas_app = typer.Typer(help="The bus contract: JSON Schema and AsyncAPI.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
app.add_typer(cmd_approvals.app, name="approvals")
app.add_typer(cmd_audit.app, name="audit")
app.add_typer(cmd_db.app, name="db")
app.add_typer(cmd_users.app, name="users")
app.add_typer(cmd_auth.app, name="auth")
app.add_typer(cmd_streams.app, name="streams")
app.command("train")(cmd_train.train)
app.command("publish")(cmd_produce.publish)
app.command("simulate")(cmd_produce.simulate)
app.command("report")(cmd_report.report)
app.command("deploy")(cmd_deploy.deploy)

@app.command()
def up(
    data_dir: DataDir = None,
    no_mlflow_ui: Annotated[bool, typer.Option(
        "--no-mlflow-ui", help="Do not offer the MLflow UI (by default it starts on the first visit to its port; "
                               "DRIFTLINE_MLFLOW_UI=on starts it at once).")] = False,
) -> None:
    """Run the whole loop on this machine on embedded defaults; Ctrl-C stops it all. The banner ends with three
    commands to try once the first model is trained."""
    from driftline.up import up as run_up

    settings = load_settings(data_dir, mlflow_ui="off" if no_mlflow_ui else None)
    try:
        run_up(settings, echo=typer.echo)
    except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
        fail(str(exc))


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="gateway, worker, monitor, agent, ui, projector or notifier.")],
    data_dir: DataDir = None,
) -> None:
    """Run one service, for deployments that scale each part on its own."""
    from driftline.services import SERVICES
    from driftline.services import serve as run_service

    if service not in SERVICES:
        usage(f"unknown service {service!r}; choose one of: {', '.join(SERVICES)}")
    run_service(service, load_settings(data_dir))


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write the files into.")],
    data_dir: DataDir = None,  # accepted like everywhere else, so a script may pass it to every command; unused here
) -> None:
    """Write one JSON Schema per event type and the AsyncAPI document of the bus (reads no data and no server)."""
    import json

    from driftline.bus_map import asyncapi_document
    from schemas.export import export

    written = export(directory)
    (directory / "asyncapi.json").write_text(json.dumps(asyncapi_document(), indent=2) + "\n")
    typer.echo(f"wrote {len(written)} JSON Schemas and asyncapi.json to {directory}")


def main() -> None:
    app()
