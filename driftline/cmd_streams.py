"""`driftline streams`: provision the streams, with the operator credential (services may only check them)."""

from __future__ import annotations

import typer

from driftline.common import DataDir, connect_bus, fail, load_settings, run

app = typer.Typer(help="JetStream streams: only the operator credential creates or changes them.",
                  no_args_is_help=True)


@app.command()
def ensure(data_dir: DataDir = None) -> None:
    """Create each stream the design names, or bring an existing one to its configuration (`driftline up` does this
    itself; a deployment's init job runs it after `driftline auth init`). Signs in as the operator."""
    from infra.streams import ensure_streams
    from schemas.streams import ALL_STREAMS

    settings = load_settings(data_dir)

    async def _ensure() -> None:
        bus = await connect_bus(settings, "driftline-streams", "operator")
        try:
            await ensure_streams(bus.js, settings)
        finally:
            await bus.close()

    try:
        run(_ensure())
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 (a refusal from the server: said in one line)
        fail(f"could not provision the streams: {exc or type(exc).__name__}")
    typer.echo(f"streams ready: {', '.join(spec.name for spec in ALL_STREAMS)}")
