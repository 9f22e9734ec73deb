"""`driftline publish` and `driftline simulate`: prediction requests onto the bus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from driftline.common import fail, load_settings, run


async def _bus(settings):
    from infra.bus import Bus
    from infra.streams import ensure_streams

    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-producer")
    await ensure_streams(bus.js, settings)
    return bus


def publish(
    csv: Annotated[Path, typer.Option("--csv", help="CSV file; one request per row, columns are features.")],
    rate: Annotated[Optional[float], typer.Option(help="Requests per second (default: as fast as possible).")] = None,
) -> None:
    """Publish one prediction request per CSV row."""
    from producers.publisher import publish_paced, read_csv_records, request_event

    if not csv.is_file():
        fail(f"no such CSV file: {csv}", code=2)
    if rate is not None and rate <= 0:
        fail("--rate must be positive", code=2)
    settings = load_settings()

    async def _main() -> int:
        bus = await _bus(settings)
        try:
            events = (request_event(features, model=settings.model_name, request_id=rid)
                      for rid, features in read_csv_records(csv))
            return await publish_paced(bus, events, rate)
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
) -> None:
    """Traffic drawn from the training data, with drift injected from a row and true labels published late."""
    from producers.simulator import Drift, parse_assignments, parse_mix, run_simulation
    from producers.traffic_source import load_traffic_source

    if rows <= 0 or rate <= 0 or label_delay < 0:
        fail("--rows and --rate must be positive and --label-delay not negative", code=2)
    try:
        drift = Drift(drift_at, parse_assignments(shift, "shift"), parse_assignments(scale, "scale"), parse_mix(mix))
    except ValueError as exc:
        fail(str(exc), code=2)
    if (drift.shift or drift.scale or drift.mix) and drift_at is None:
        fail("--shift, --scale and --mix need --drift-at ROW", code=2)
    settings = load_settings()
    frame, target, origin = load_traffic_source(settings)
    typer.echo(f"traffic from {origin}: {rows} requests at {rate:g}/s, labels after {label_delay:g}s")

    async def _main() -> dict:
        bus = await _bus(settings)
        try:
            return await run_simulation(bus, frame, target, model=settings.model_name, rows=rows, rate=rate,
                                        seed=seed, drift=drift, label_delay=label_delay)
        finally:
            await bus.close()

    try:
        summary = run(_main())
    except ValueError as exc:
        fail(str(exc), code=2)
    typer.echo(f"published {summary['requests']} requests ({summary['drifted']} drifted) and "
               f"{summary['labels']} labels in {summary['seconds']}s (request ids sim-{summary['run']}-N)")
