"""`driftline train`: validate, train, track, select, register."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from driftline.common import CONNECT_DEADLINE_S, DataDir, JsonFlag, check_mlflow, fail, load_settings, usage
from infra.settings import Settings

log = logging.getLogger("driftline.train")
CONNECT_TIMEOUT_S = 1.0  # per attempt; with the retry below the bus is given up within CONNECT_DEADLINE_S


def train(
    dataset: Annotated[str, typer.Option(help="builtin:breast_cancer or a CSV file.")] = "builtin:breast_cancer",
    target: Annotated[Optional[str], typer.Option(help="Target column of a CSV data set.")] = None,
    schema: Annotated[Optional[Path], typer.Option(help="Validation schema file (inferred and saved if absent).")] = None,
    if_no_champion: Annotated[bool, typer.Option("--if-no-champion", help="Train only if no champion exists.")] = False,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
    backend: Annotated[Optional[str], typer.Option(
        help="local (this machine) or dask (a Dask cluster: partitioned validation, xgboost.dask and lightgbm.dask; "
             "the other families on a sample). Default: DRIFTLINE_TRAIN_BACKEND, else local.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        help="Dask scheduler address (tcp://HOST:8786) for --backend dask; unset: a LocalCluster on 127.0.0.1.")] = None,
) -> None:
    """Validate a data set, train four model families, track them in MLflow, register and maybe promote the best.

    Without a reachable NATS server it trains anyway (a warning says its events were not published); an MLflow
    tracking server that does not answer stops it at once.
    """
    if backend not in (None, "local", "dask"):
        usage(f"--backend must be local or dask, not {backend!r}")
    if scheduler and backend == "local":
        usage("--scheduler is for --backend dask")
    settings = load_settings(data_dir, train_backend=backend or ("dask" if scheduler else None),
                             dask_scheduler=scheduler)
    if schema is not None and schema.is_file():
        _check_schema(schema)
    check_mlflow(settings)
    code = asyncio.run(_train(settings, dataset, target, schema, if_no_champion, as_json))
    if code:
        raise typer.Exit(code)


def _check_schema(path: Path) -> None:
    """A --schema file that cannot be read as a data contract is one line naming the file, not a traceback."""
    from trainer.contract import Contract, ContractError

    try:
        Contract.load(path)
    except ContractError as exc:  # it names the file and the field; before MLflow or the bus are even touched
        usage(str(exc))


async def _connect(settings: Settings):
    """The bus, or None (said clearly on stderr) when no nats-server answers or the streams are not there: training
    goes on without events. Signed in as the trainer, which may publish its events and nothing else."""
    import nats

    from infra.bus import Bus
    from infra.nats_auth import connect_options, credential_for
    from infra.streams import require_streams

    url = settings.resolved_nats_url
    async def quiet(exc: Exception) -> None:  # the one warning below says it; no traceback per attempt
        log.debug("nats: %s", exc)

    credential = credential_for(settings, "trainer")
    try:
        nc = await asyncio.wait_for(
            nats.connect(url, name="driftline-train", connect_timeout=CONNECT_TIMEOUT_S, allow_reconnect=False,
                         max_reconnect_attempts=1, error_cb=quiet, **(connect_options(credential) if credential else {})),
            timeout=CONNECT_DEADLINE_S,
        )
    except Exception as exc:
        typer.secho(f"warning: no bus reachable at {url} ({exc or type(exc).__name__}); "
                    "training anyway, events will NOT be published", fg=typer.colors.YELLOW, err=True)
        return None
    bus = Bus(nc, nc.jetstream(timeout=5))
    try:
        await require_streams(bus.js)
    except Exception as exc:  # StreamsMissing, or no answer
        typer.secho(f"warning: {exc}; training anyway, events will NOT be published", fg=typer.colors.YELLOW, err=True)
        await bus.close()
        return None
    return bus


async def _train(settings: Settings, dataset: str, target: str | None, schema: Path | None, if_no_champion: bool,
                 as_json: bool = False) -> int:
    from trainer.api import DataInvalid, ensure_champion_async, train_async
    from trainer.contract import ContractError
    from trainer.dask_cluster import ClusterUnreachable
    from trainer.datasets import DatasetError
    from trainer.progress import RichProgress
    from trainer.validation import describe, remedy

    bus = await _connect(settings)
    run = ensure_champion_async if if_no_champion else train_async
    try:
        outcome = await run(settings, dataset=dataset, target=target, schema=schema,
                            publish=bus.publish if bus else None, progress=RichProgress(settings.selection_metric))
    except (DatasetError, ContractError) as exc:
        usage(str(exc))
    except ClusterUnreachable as exc:
        fail(str(exc))
    except DataInvalid as exc:
        typer.secho(f"error: {dataset} failed validation; nothing was trained:", fg=typer.colors.RED, err=True)
        for failure in exc.failures:
            typer.echo(f"  - {describe(failure)}", err=True)
        hints = list(dict.fromkeys(h for h in map(remedy, exc.failures) if h))
        if exc.event.data.schema_path:
            typer.echo(f"schema file: {exc.event.data.schema_path}", err=True)
        if hints:
            typer.echo("what to do:", err=True)
            for hint in hints:
                typer.echo(f"  - {hint}", err=True)
        typer.echo(f"{'published' if bus else 'did not publish'} {exc.event.topic} ({exc.event.id})", err=True)
        if as_json:
            typer.echo(json.dumps({"trained": False, "valid": False, "rejected_event": exc.event.id,
                                   "failures": [f.model_dump(mode="json") for f in exc.failures]}))
        return 1
    finally:
        if bus:
            await bus.close()
    if outcome is None:
        if as_json:
            typer.echo(json.dumps({"trained": False, "valid": True, "reason": "a champion exists (--if-no-champion)"}))
        else:
            typer.echo("a champion exists already; nothing trained (--if-no-champion)")
        return 0
    if as_json:
        typer.echo(json.dumps(_document(outcome, published=bus is not None)))
    else:
        _report(outcome, published=bus is not None)
    return 0


def _document(outcome, published: bool) -> dict:
    """The outcome as one JSON document for scripts."""
    return {"trained": True, "valid": True, "version": outcome.version, "promoted": outcome.promoted,
            "reason": outcome.reason, "champion_version": outcome.champion_version,
            "previous_champion": outcome.previous_champion, "best_family": outcome.best_family,
            "selection_metric": outcome.selection_metric, "parent_run_id": outcome.parent_run_id,
            "dataset_hash": outcome.dataset_hash,
            "candidates": [{"family": c.family, "run_id": c.run_id, "metrics": c.metrics} for c in outcome.candidates],
            "events_published": published and not outcome.unpublished,
            "unpublished_events": [e.id for e in outcome.unpublished]}


def _report(outcome, published: bool) -> None:
    typer.echo(f"{'candidate':<22}" + "".join(f"{m:>11}" for m in ("accuracy", "precision", "recall", "f1", "roc_auc")))
    for c in outcome.candidates:
        typer.echo(f"{c.family:<22}" + "".join(f"{c.metrics[m]:>11.4f}" for m in ("accuracy", "precision", "recall",
                                                                                   "f1", "roc_auc")))
    typer.echo(f"best: {outcome.best_family} (by {outcome.selection_metric}), registered as version {outcome.version} "
               f"(alias challenger); MLflow parent run {outcome.parent_run_id}")
    if outcome.promoted:
        typer.echo(f"promoted: version {outcome.version} is champion: {outcome.reason}")
    else:
        typer.echo(f"not promoted: champion stays version {outcome.champion_version}: {outcome.reason}")
    if not published:
        typer.echo("events were not published (no bus)", err=True)
    elif outcome.unpublished:
        typer.echo(f"warning: {len(outcome.unpublished)} event(s) could not be published", err=True)
