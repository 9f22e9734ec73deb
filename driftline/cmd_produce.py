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


def _unacknowledged(settings) -> str:
    """What a publish that JetStream did not acknowledge in time means, and what to do (not a bare TimeoutError)."""
    return (f"NATS at {settings.resolved_nats_url} acknowledged no publish within its timeout: the server is saturated "
            "or stopped answering. What was acknowledged before is stored; lower --rate, or check that the server "
            "still runs (`driftline up` prints its logs folder), then run again")


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
    except TimeoutError:  # an OSError too: first
        fail(_unacknowledged(settings))
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
    concept: Annotated[Optional[str], typer.Option(
        help="FEATURE=TOP_SHARE concept change: inside the top share of FEATURE (0.3 = its top 30% in the data) "
             "the label relation flips from the drift row on. Needs a two-class target.")] = None,
    gradual: Annotated[int, typer.Option(
        help="Ramp the drift in over this many rows after --drift-at (shifts and scales grow linearly; a mix, "
             "concept, stuck or null change hits a growing share of rows). 0: sudden.")] = 0,
    stuck: Annotated[Optional[list[str]], typer.Option(
        help="FEATURE=VALUE sensor failure: the feature reads VALUE from the drift row on (the outcome still "
             "follows the true value), repeatable.")] = None,
    null: Annotated[Optional[list[str]], typer.Option(
        "--null", help="FEATURE sensor failure: the feature is sent as null from the drift row on, repeatable.")] = None,
    labels: Annotated[str, typer.Option(
        help="data: each sampled row's own label (a shift moves the label relation with the rows). ground-truth: "
             "labels drawn from a fixed relation (a logistic teacher fitted once on the traffic's source data, "
             "deterministic), so a covariate shift keeps the input->outcome relation and harms only where the "
             "model is weak.")] = "data",
    label_delay: Annotated[float, typer.Option("--label-delay", help="Seconds before true labels are published.")] = 5.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    source: Annotated[str, typer.Option(
        help="champion: rows from the champion's reference data (after a retrain that includes the production rows "
             "it learned from). builtin:breast_cancer: always the built-in data set, so runs before and after a "
             "retrain draw from (and, with --labels ground-truth, label by) the same world.")] = "champion",
    data_dir: DataDir = None,
) -> None:
    """Traffic drawn from the training data, with drift injected from a row and true labels published late."""
    if rows <= 0 or rate <= 0 or label_delay < 0:
        usage("--rows and --rate must be positive and --label-delay not negative")
    if source not in ("champion", "builtin:breast_cancer"):
        usage(f"--source {source!r}: choose champion or builtin:breast_cancer")
    if labels not in ("data", "ground-truth"):
        usage(f"--labels {labels!r}: choose data or ground-truth")
    # Drift flags are checked before anything connects (a usage error is exit 2 whatever the servers do); without
    # them the simulator (pandas: 1-2 s to import) loads after the bus answered, so a NATS that is down is said fast.
    asked = (shift, scale, mix, concept, gradual, stuck, null)
    drift = _drift(drift_at, *asked) if drift_at is not None or any(asked) else None
    settings = load_settings(data_dir)

    async def _main() -> dict:
        from driftline.common import check_mlflow
        from producers.simulator import Drift, run_simulation
        from producers.teacher import Teacher
        from producers.traffic_source import load_traffic_source

        bus = await _bus(settings)
        try:
            check_mlflow(settings)
            if source == "champion":
                frame, target, origin = load_traffic_source(settings)
            else:
                from producers.traffic_source import builtin_breast_cancer

                (frame, target), origin = builtin_breast_cancer(), source
            typer.echo(f"traffic from {origin}: {rows} requests at {rate:g}/s, labels ({labels}) after "
                       f"{label_delay:g}s", err=True)
            # Seed 0 whatever the traffic's seed: the relation is the same in every run on the same data.
            teacher = Teacher(frame, target, seed=0) if labels == "ground-truth" else None
            with progress("simulating traffic", total=rows) as bar:
                return await run_simulation(CountingBus(bus, bar.advance), frame, target, model=settings.model_name,
                                            rows=rows, rate=rate, seed=seed, drift=drift or Drift(),
                                            label_delay=label_delay, teacher=teacher)
        finally:
            await bus.close()

    try:
        summary = run(_main())
    except ValueError as exc:
        usage(str(exc).replace("labels from a fixed relation", "--labels ground-truth"))
    except TimeoutError:
        fail(_unacknowledged(settings))
    typer.echo(f"published {summary['requests']} requests ({summary['drifted']} drifted) and "
               f"{summary['labels']} labels in {summary['seconds']}s (request ids sim-{summary['run']}-N)")


def _drift(drift_at, shift, scale, mix, concept, gradual, stuck, null):
    from producers.simulator import Drift, parse_assignments, parse_concept, parse_mix, parse_stuck

    try:
        drift = Drift(drift_at, parse_assignments(shift, "--shift"), parse_assignments(scale, "--scale"),
                      parse_mix(mix), parse_concept(concept), gradual, parse_stuck(stuck),
                      tuple(n.strip() for n in null or []))
    except ValueError as exc:
        usage(f"--{str(exc)}" if not str(exc).startswith("--") else str(exc))
    if gradual < 0:
        usage(f"--gradual {gradual}: a number of rows, 0 or more")
    if drift_at is None:
        usage("--shift, --scale, --mix, --concept, --gradual, --stuck and --null need --drift-at ROW")
    if gradual and not (drift.shift or drift.scale or drift.mix or drift.concept or drift.stuck or drift.null):
        usage("--gradual ramps in a drift: give one too (--shift, --scale, --mix, --concept, --stuck or --null)")
    return drift
