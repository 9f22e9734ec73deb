"""Wiring of the notifier service: AUDIT events -> email and Slack, plus the automatic report builder."""

from __future__ import annotations

import asyncio
import logging

import httpx

from consumers.notifier import service as notifier
from consumers.reports import service as reports
from driftline.common import database_dsn
from driftline.report_process import ReportProcess
from infra.bus import Bus
from infra.consumer import ConsumerRunner, ConsumerSpec
from infra.db import connect_pool
from infra.nats_auth import credential_for
from infra.settings import Settings
from infra.streams import require_streams
from schemas import Event

log = logging.getLogger(__name__)


def attachments_from(builder: ReportProcess):
    """The notifier's report provider: the stored report, rebuilt when older than the event."""

    async def attachment(report: tuple[str, str], event: Event):
        kind, ident = report
        return await builder.ensure(kind, ident, not_before=event.time.timestamp())

    return attachment


def consumer_specs(settings: Settings) -> list[ConsumerSpec]:
    """The notifier's durable and, when reports are built automatically, the report builder's."""
    specs = [notifier.consumer_spec(settings)]
    if settings.reports_auto:
        specs.append(reports.consumer_spec(settings))
    return specs


async def main(settings: Settings, stop: asyncio.Event) -> None:
    if settings.notifier_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.notifier_metrics_port, addr="127.0.0.1")
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-notifier",
                            credential=credential_for(settings, "notifier"))
    pool = await connect_pool(await database_dsn(settings, "notifier"), max_size=3)
    http = httpx.AsyncClient(timeout=settings.smtp_timeout_s)
    try:
        await require_streams(bus.js)
        builder = ReportProcess(settings)  # each report in its own process: the notifier's memory stays flat
        note = notifier.Notifier(settings, bus, pool, http, attachments=attachments_from(builder))
        handlers = [note.handle]
        if settings.reports_auto:
            handlers.append(reports.AutoReports(settings, publish=builder.publish).handle)
        runners = [ConsumerRunner(bus, spec, handle) for spec, handle in
                   zip(consumer_specs(settings), handlers, strict=True)]
        await asyncio.gather(*(runner.run(stop) for runner in runners))
    finally:
        await http.aclose()
        await pool.close()
        await bus.close()
