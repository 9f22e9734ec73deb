"""The services `driftline serve` and `driftline up` know, each wired in its own module of this package."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType

from infra.settings import Settings

log = logging.getLogger(__name__)

ServiceMain = Callable[[Settings, asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class Service:
    name: str
    summary: str
    target: str  # "module:function" resolved lazily, so one service does not import another's dependencies
    url: Callable[[Settings], str] | None = None
    uvloop: bool = False  # the request paths run on uvloop (measured by bench/bench_http.py and bench_bus.py)

    @property
    def module(self) -> ModuleType:
        """The wiring module; a missing one is an error (ModuleNotFoundError), never a service quietly left out."""
        return importlib.import_module(self.target.partition(":")[0])

    def load(self) -> ServiceMain:
        return getattr(self.module, self.target.partition(":")[2])

    def loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop] | None:
        """uvloop for the services that ask for it, chosen when the service starts (nothing global at import)."""
        if not self.uvloop:
            return None
        try:
            import uvloop
        except ImportError:  # plain asyncio works, only slower
            return None
        return uvloop.new_event_loop


# Later services add one line here; the order is the start order of `driftline up`.
SERVICES: dict[str, Service] = {
    s.name: s
    for s in [
        Service("projector", "audit projector: AUDIT stream -> PostgreSQL hash chain", "driftline.run_projector:main"),
        Service("worker", "inference worker: prediction.requested -> prediction.made", "driftline.run_worker:main",
                uvloop=True),
        Service("gateway", "HTTP gateway: /predict, /health, /ready, /metrics, webhooks", "driftline.run_gateway:main",
                url=lambda s: f"http://{s.gateway_host}:{s.gateway_port}", uvloop=True),
        Service("monitor", "drift and quality monitor: predictions + labels -> reports, alerts",
                "driftline.run_monitor:main"),
        Service("agent", "diagnoser, approval gate and executor", "driftline.run_agent:main"),
        Service("notifier", "email and Slack notifications, PDF reports", "driftline.run_notifier:main"),
        Service("ui", "approval web page", "driftline.run_ui:main", url=lambda s: f"http://{s.ui_host}:{s.ui_port}"),
    ]
}


def _expose_metrics(name: str, settings: Settings) -> None:
    """/metrics for services without an HTTP port of their own, when a port is configured for them."""
    port = getattr(settings, f"{name}_metrics_port", None)
    if not port or name in ("monitor", "notifier"):  # these two start their own endpoint
        return
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=settings.metrics_host)
    except OSError as exc:  # a second replica on one machine: the first one's endpoint already answers
        log.warning("%s: /metrics not exposed on port %d: %s", name, port, exc)


def serve(name: str, settings: Settings) -> None:
    """Run one service in this process until SIGINT or SIGTERM."""
    service = SERVICES[name]
    main = service.load()

    _expose_metrics(name, settings)
    from infra import tracing

    # The standard OTEL_* variables, read here at the edge: traces are off unless they name an exporter.
    exporting = tracing.configure(name, os.environ)
    if exporting:
        log.info("%s: traces to %s", name, exporting)

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("%s starting", name)
        await main(settings, stop)
        log.info("%s stopped", name)

    from infra.streams import StreamsMissing

    try:
        with asyncio.Runner(loop_factory=service.loop_factory()) as runner:
            runner.run(_run())
    except StreamsMissing as exc:  # one line, not a traceback: services may not create streams themselves
        raise SystemExit(f"{name} not started: {exc}") from None
    finally:
        tracing.shutdown()  # export what is still queued
