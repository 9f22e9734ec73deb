"""`driftline publish` and `driftline simulate`: prediction requests onto the bus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from driftline.common import DataDir, connect_bus, fail, load_settings, run, usage
from driftline.progress import CountingBus, progress


async def _bus(settings):
    """Connected first, before any data is read: with NATS down the command fails in about a second. The streams
    must exist (a producer may not create them)."""
    from infra.streams import StreamsMissing, require_streams

    bus = await connect_bus(settings, "driftline-producer", "producers")
    try:
        await require_streams(bus.js)
    except StreamsMissing as exc:
        await bus.close()
        fail(str(exc))
    return bus


def publish(
    csv: Annotated[Path, typer.Option("--csv", help="CSV file; one request per row, columns are features.")],
    rate: Annotated[Optional[float], typer.Option(help="Requests per second (default: as fast as possible).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Publish one prediction request per CSV row (a `request_id` column, if any, is the request id)."""
    from producers.publisher import publish_paced, read_csv_records, request_event

    if not csv.is_file():
        usage(f"no such CSV file: {csv}")
    if rate is not None and rate <= 0:
        usage("--rate must be positive")
    settings = load_settings(data_dir)

    async def _main() -> int:
        bus = await _bus(settings)
        try:
            records = list(read_csv_records(csv))
            with progress(f"publishing {csv.name}", total=len(records)) as bar:
                events = (request_event(features, model=settings.model_name, request_id=rid)
                          for rid, features in records)
                return await publish_paced(CountingBus(bus, bar.advance), events, rate)
        finally:
            await bus.close()

    try:
        sent = run(_main())
    except (ValueError, OSError) as exc:
        fail(f"could not publish {csv}: {exc}")
    typer.echo(f"published {sent} prediction requests from {csv}")


def simulate(
    rows: Annotated[int, typer.Option(help="Requests to send.")] = 2000,
    rate: Annotated[float, typer.Option(help="Requests per second.")] = 200.0,
    drift_at: Annotated[Optional[int], typer.Option("--drift-at", help="Row from which drift is injected.")] = None,
    shift: Annotated[Optional[list[str]], typer.Option(help="FEATURE=SIGMAS mean shift, repeatable.")] = None,
    scale: Annotated[Optional[list[str]], typer.Option(help="FEATURE=FACTOR scale change, repeatable.")] = None,
    mix: Annotated[Optional[list[str]], typer.Option(
        help="FEATURE=VALUE:WEIGHT,VALUE:WEIGHT category mix after the drift row, repeatable.")] = None,
    label_delay: Annotated[float, typer.Option("--label-delay", help="Seconds before true labels are published.")] = 5.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    data_dir: DataDir = None,
) -> None:
    """Traffic drawn from the training data, with drift injected from a row and true labels published late."""
    if rows <= 0 or rate <= 0 or label_delay < 0:
        usage("--rows and --rate must be positive and --label-delay not negative")
    # Drift flags are checked before anything connects (a usage error is exit 2 whatever the servers do); without
    # them the simulator (pandas: 1-2 s to import) loads after the bus answered, so a NATS that is down is said fast.
    drift = _drift(drift_at, shift, scale, mix) if (drift_at is not None or shift or scale or mix) else None
    settings = load_settings(data_dir)

    async def _main() -> dict:
        from driftline.common import check_mlflow
        from producers.simulator import Drift, run_simulation
        from producers.traffic_source import load_traffic_source

        bus = await _bus(settings)
        try:
            check_mlflow(settings)
            frame, target, origin = load_traffic_source(settings)
            typer.echo(f"traffic from {origin}: {rows} requests at {rate:g}/s, labels after {label_delay:g}s", err=True)
            with progress("simulating traffic", total=rows) as bar:
                return await run_simulation(CountingBus(bus, bar.advance), frame, target, model=settings.model_name,
                                            rows=rows, rate=rate, seed=seed, drift=drift or Drift(),
                                            label_delay=label_delay)
        finally:
            await bus.close()

    try:
        summary = run(_main())
    except ValueError as exc:
        usage(str(exc))
    typer.echo(f"published {summary['requests']} requests ({summary['drifted']} drifted) and "
               f"{summary['labels']} labels in {summary['seconds']}s (request ids sim-{summary['run']}-N)")


def _drift(drift_at, shift, scale, mix):
    from producers.simulator import Drift, parse_assignments, parse_mix

    try:
        drift = Drift(drift_at, parse_assignments(shift, "shift"), parse_assignments(scale, "scale"), parse_mix(mix))
    except ValueError as exc:
        usage(str(exc))
    if (drift.shift or drift.scale or drift.mix) and drift_at is None:
        usage("--shift, --scale and --mix need --drift-at ROW")
    return drift
