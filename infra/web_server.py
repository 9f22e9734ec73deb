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
    """Serve until `stop` is set (requests in flight finish first); RuntimeError if it cannot start (a taken port).

    `config`: further uvicorn.Config options (access_log, timeout_graceful_shutdown, ...)."""
    config = {"log_level": "warning", "lifespan": "on", **config}
    server = _Server(uvicorn.Config(app, host=host, port=port, **config))

    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn exits the process when it cannot bind or start: the service decides
            raise RuntimeError(f"the web server on {host}:{port} could not start (is the port taken? uvicorn's "
                               f"error is logged above)") from exc

    serving = asyncio.create_task(serve())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
    await serving  # re-raises what stopped the server
    if not server.started and not stop.is_set():
        raise RuntimeError(f"the web server on {host}:{port} did not start")
