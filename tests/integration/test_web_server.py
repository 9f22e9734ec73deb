"""Serving an app under the service runner (infra/web_server.py): the runner keeps the signals, `stop` ends the
server, and a port already taken is an error, not a silent exit."""

from __future__ import annotations

import asyncio
import signal
import socket

import httpx
import pytest
from fastapi import FastAPI

from infra.processes import free_port
from infra.web_server import serve_app

pytestmark = pytest.mark.integration


def app_and_probe() -> tuple[FastAPI, list]:
    app, seen = FastAPI(), []

    @app.get("/")
    async def root() -> dict:
        seen.append(signal.getsignal(signal.SIGTERM))  # while serving: whose handler is in place?
        return {"ok": True}

    return app, seen


async def test_stop_ends_the_server_and_the_signals_stay_the_runners():
    app, seen = app_and_probe()
    before = signal.getsignal(signal.SIGTERM)
    port, stop = free_port(), asyncio.Event()
    serving = asyncio.create_task(serve_app(app, "127.0.0.1", port, stop))
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                assert (await client.get(f"http://127.0.0.1:{port}/")).json() == {"ok": True}
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(serving, 10)
    assert seen == [before]  # uvicorn did not put its own SIGTERM handler in


async def test_a_taken_port_is_an_error():
    app, _ = app_and_probe()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(RuntimeError, match="could not start"):
            await asyncio.wait_for(serve_app(app, "127.0.0.1", taken.getsockname()[1], asyncio.Event()), 10)
