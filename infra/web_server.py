"""Serving an ASGI app with uvicorn inside a service: the service runner owns SIGINT/SIGTERM and sets `stop`."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):
        # uvicorn would install its own handlers, then re-raise the signal on exit; the runner's `stop` rules.
        yield


async def serve_app(app, host: str, port: int, stop: asyncio.Event, **config) -> None:
    """Serve until `stop` is set (requests in flight finish first); raises if the server fails, e.g. on a taken port.

    `config`: further uvicorn.Config options (access_log, timeout_graceful_shutdown, ...)."""
    config = {"log_level": "warning", "lifespan": "on", **config}
    server = _Server(uvicorn.Config(app, host=host, port=port, **config))
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
    await serving  # re-raises what stopped the server
    if not server.started and not stop.is_set():
        raise RuntimeError(f"the web server on {host}:{port} did not start")
