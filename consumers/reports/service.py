"""Automatic reports: on a promotion, an alert, or an incident's close, build the report, store it, log it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from consumers.reports.builder import ReportBuilder
from consumers.reports.incident import closes_incident
from consumers.reports.names import BadReportName, file_name
from infra.consumer import ConsumerSpec, Received, Rejected
from infra.settings import Settings
from schemas import Event
from schemas.action import ActionCompleted, ActionEscalated, ActionFailed
from schemas.model import ModelPromoted
from schemas.monitoring import AlertRaised

if TYPE_CHECKING:  # the builder (WeasyPrint, matplotlib, MLflow) loads only where reports are built
    from consumers.reports.builder import ReportBuilder

log = logging.getLogger(__name__)

REPORTS_EXPERIMENT = "driftline-reports"
SUBJECTS = (ModelPromoted.topic, AlertRaised.topic, ActionCompleted.topic, ActionFailed.topic, ActionEscalated.topic)


def trigger(event: Event) -> tuple[str, str] | None:
    """The report an event calls for: (kind, id), or None."""
    if isinstance(event, ModelPromoted):
        return ("deployment", event.data.version) if event.data.promoted else None
    if isinstance(event, AlertRaised):
        return ("drift", event.id)
    if closes_incident(event):
        return ("incident", event.correlation_id)
    return None


def consumer_spec(settings: Settings, durable: str = "report-builder") -> ConsumerSpec:
    return ConsumerSpec(durable, "AUDIT", SUBJECTS, batch=5, max_wait=0.5, max_deliver=settings.max_deliver,
                        ack_wait=max(settings.ack_wait_s, 300), backoff=tuple(settings.backoff_s))


def log_report(settings: Settings, kind: str, ident: str, path: Path, version: str | None) -> str:
    """Log the PDF to MLflow: on the model version's run for deployments, else in the reports experiment."""
    import mlflow
    from mlflow import MlflowClient

    from infra.models import artifact_location

    client = MlflowClient()
    if kind == "deployment" and version:
        run_id = client.get_model_version(settings.model_name, version).run_id
        client.log_artifact(run_id, str(path), artifact_path="reports")
        return run_id
    experiment = mlflow.get_experiment_by_name(REPORTS_EXPERIMENT)
    exp_id = experiment.experiment_id if experiment else client.create_experiment(
        REPORTS_EXPERIMENT, artifact_location=artifact_location(settings))
    name = f"{kind}-{ident}"
    found = client.search_runs([exp_id], filter_string=f"tags.`driftline.report` = '{name}'", max_results=1)
    if found:
        run_id = found[0].info.run_id
    else:
        tags = {"driftline.report": name, "driftline.report_kind": kind, "mlflow.runName": name}
        if version:
            tags["driftline.model_version"] = version
        run_id = client.create_run(exp_id, tags=tags).info.run_id
        client.set_terminated(run_id)
    client.log_artifact(run_id, str(path), artifact_path="reports")
    return run_id


# (kind, id, not_before epoch s, model version or None) -> the stored report, built and logged as settings say
Publish = Callable[[str, str, float, str | None], Awaitable[Path]]


class AutoReports:
    """The adapter: triggering events -> stored and logged reports. `publish` builds and logs one (by default here,
    with `builder`; the composition root may hand in one that runs elsewhere)."""

    def __init__(self, settings: Settings, builder: ReportBuilder | None = None, publish: Publish | None = None):
        self.settings, self.builder = settings, builder
        self.publish = publish or self.publish_here

    async def publish_here(self, kind: str, ident: str, not_before: float, version: str | None) -> Path:
        """Build (unless a fresh copy is stored) and log to MLflow, in this process."""
        path = await self.builder.ensure(kind, ident, not_before=not_before)
        if self.settings.reports_log_mlflow:
            run_id = await asyncio.to_thread(log_report, self.settings, kind, ident, path, version)
            log.info("%s report %s logged to MLflow run %s", kind, ident, run_id)
        return path

    async def handle(self, batch: list[Received]) -> None:
        """ModelPromoted / AlertRaised / incident outcomes -> a PDF in reports_dir and in MLflow."""
        for item in batch:
            wanted = trigger(item.event)
            if wanted is None:
                continue
            kind, ident = wanted
            try:
                file_name(kind, ident)  # an id such as "../x" is never a path: the event is dead-lettered
            except BadReportName as exc:
                raise Rejected(str(exc)) from None
            with item.span("report"):
                await self.publish(kind, ident, item.event.time.timestamp(), self._version(item.event))

    @staticmethod
    def _version(event: Event) -> str | None:
        if isinstance(event, ModelPromoted):
            return event.data.version
        if isinstance(event, AlertRaised):
            return event.data.model_version
        return None
