"""Automatic reports: on a promotion, an alert, or an incident's close, build the report, store it, log it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from consumers.reports.builder import BadReportName, ReportBuilder
from consumers.reports.incident import closes_incident
from infra.consumer import ConsumerSpec, Received, Rejected
from infra.settings import Settings
from schemas import Event
from schemas.action import ActionCompleted, ActionEscalated, ActionFailed
from schemas.model import ModelPromoted
from schemas.monitoring import AlertRaised

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


class AutoReports:
    """The adapter: triggering events -> stored and logged reports."""

    def __init__(self, settings: Settings, builder: ReportBuilder):
        self.settings, self.builder = settings, builder

    async def handle(self, batch: list[Received]) -> None:
        """ModelPromoted / AlertRaised / incident outcomes -> a PDF in reports_dir and in MLflow."""
        for item in batch:
            wanted = trigger(item.event)
            if wanted is None:
                continue
            kind, ident = wanted
            try:
                path = await self.builder.ensure(kind, ident, not_before=item.event.time.timestamp())
            except BadReportName as exc:  # an id such as "../x": never a path; the event is dead-lettered
                raise Rejected(str(exc)) from None
            if self.settings.reports_log_mlflow:
                version = self._version(item.event)
                run_id = await asyncio.to_thread(log_report, self.settings, kind, ident, path, version)
                log.info("%s report %s logged to MLflow run %s", kind, ident, run_id)

    @staticmethod
    def _version(event: Event) -> str | None:
        if isinstance(event, ModelPromoted):
            return event.data.version
        if isinstance(event, AlertRaised):
            return event.data.model_version
        return None
