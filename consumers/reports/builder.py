"""Building a report: gather the events and MLflow evidence, render, store under reports_dir/<kind>/, log it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext

from consumers.reports import deployment, drift, incident, metrics
from consumers.reports.audit_log import load_events
from consumers.reports.current_data import window_features
from consumers.reports.model_evidence import model_evidence, reference_frame
from consumers.reports.names import file_name
from consumers.reports.render import KINDS, render_pdf
from infra import tracing
from infra.settings import Settings
from schemas.data import DataValidated
from schemas.model import ModelPromoted, ModelTrained
from schemas.monitoring import AlertRaised, DriftReported

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltReport:
    kind: str
    ident: str
    path: Path
    model_version: str | None = None


class ReportBuilder:
    """Builds reports; concurrent requests for the same report wait for one build and share it."""

    def __init__(self, settings: Settings, js: JetStreamContext, *, use_mlflow: bool = True):
        self.settings, self.js, self.use_mlflow = settings, js, use_mlflow
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def path_for(self, kind: str, ident: str) -> Path:
        """Where a report is stored; BadReportName for an id that is no safe file name."""
        return self.settings.reports_dir / kind / file_name(kind, ident)

    async def ensure(self, kind: str, ident: str, not_before: float = 0.0) -> Path:
        """The stored report, built unless one exists that was written at or after `not_before` (epoch s)."""
        path = self.path_for(kind, ident)
        lock = self._locks.setdefault((kind, ident), asyncio.Lock())
        async with lock:
            if path.exists() and path.stat().st_mtime >= not_before:
                return path
            return (await self.build(kind, ident)).path

    async def build(self, kind: str, ident: str | None = None) -> BuiltReport:
        """Gather, render and store one report (ident None: the default subject of its kind)."""
        if kind not in KINDS:
            raise ValueError(f"unknown report kind {kind!r}; one of {', '.join(KINDS)}")
        if ident is not None:
            file_name(kind, ident)  # refused before anything is gathered
        started = time.perf_counter()
        try:
            context, ident, version = await getattr(self, f"_{kind}")(ident)
            pdf = await asyncio.to_thread(render_pdf, context)
        except Exception:
            metrics.REPORTS.labels(kind, "failed").inc()
            raise
        path = self.path_for(kind, ident)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pdf)
        tmp.replace(path)  # readers never see half a file
        metrics.REPORTS.labels(kind, "built").inc()
        metrics.REPORT_SECONDS.labels(kind).observe(time.perf_counter() - started, tracing.exemplar())
        log.info("%s report %s written to %s", kind, ident, path)
        return BuiltReport(kind, ident, path, version)

    async def _deployment(self, version: str | None):
        events = await load_events(self.js, (ModelTrained.topic, ModelPromoted.topic, DataValidated.topic))
        if version is None and self.use_mlflow:
            from infra.models import champion_version

            mv = await asyncio.to_thread(champion_version, self.settings)
            version = str(mv.version) if mv else None
        version = version or deployment.default_version(events)
        if version is None:
            raise LookupError("no champion in the registry and no promotion on the audit trail")
        evidence = await self._mlflow(model_evidence, self.settings, version)
        return deployment.deployment_context(events, version, evidence), version, version

    async def _drift(self, ident: str | None):
        events = await load_events(self.js, (DriftReported.topic, AlertRaised.topic))
        subject = drift.resolve(events, ident)
        ident = subject.chosen_id
        version = subject.model_version
        reference = await self._mlflow(reference_frame, self.settings, version) if version else None
        current = None
        if subject.window is not None:
            model = (subject.report or subject.alerts[0]).data.model
            current = await window_features(self.js, subject.window.start, subject.window.end, model)
        return drift.drift_context(subject, reference, current), ident, version

    async def _incident(self, correlation_id: str | None):
        events = await load_events(self.js)
        correlation_id = correlation_id or incident.default_incident(events)
        if correlation_id is None:
            raise LookupError("no incident (alert) on the audit trail yet")
        context = incident.incident_context(events, correlation_id)
        version = next((a.data.model_version for a in context["alerts"] if a.data.model_version), None)
        return context, correlation_id, version

    async def _mlflow(self, func, *args):
        if not self.use_mlflow:
            return None
        try:
            return await asyncio.to_thread(func, *args)
        except Exception as exc:  # the report still tells what the events say
            log.warning("MLflow evidence unavailable (%s%r): %s", func.__name__, args[1:], exc)
            return None
