"""The approval page's app factory: routes, templates, static files, and the live-count wiring."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from infra.bus import Bus
from infra.settings import Settings
from ui import routes_actions, routes_approvals, routes_audit, routes_auth, routes_config, sse
from ui.auth import Signer, secret_key
from ui.pages import NeedNewPassword, NeedSignIn, redirect_password, redirect_sign_in
from ui.ports import ApprovalDesk

SECURITY_HEADERS = {
    # Only our own script and style; no framing; no referrer leaking approval ids.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings, bus: Bus, pool: asyncpg.Pool, desk: ApprovalDesk,
               stopping: asyncio.Event | None = None) -> FastAPI:
    """The web page on a connected bus and a migrated pool; the caller owns both. `desk` is the approvals owner's:
    the page reads the approvals table and never writes it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        sub = await sse.watch_bus(bus, app.state.waker)
        try:
            yield
        finally:
            app.state.stopping.set()
            try:
                await sub.unsubscribe()
            except Exception:  # connection already closed
                pass

    app = FastAPI(title="Driftline approvals", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.bus, app.state.pool, app.state.desk = settings, bus, pool, desk
    app.state.signer = Signer(secret_key(settings))
    app.state.waker = sse.Waker()
    app.state.stopping = stopping or asyncio.Event()
    app.add_exception_handler(NeedSignIn, redirect_sign_in)
    app.add_exception_handler(NeedNewPassword, redirect_password)

    @app.middleware("http")
    async def headers(request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            if not request.url.path.startswith("/reports/"):
                response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for module in (routes_auth, routes_approvals, routes_audit, routes_actions, routes_config, sse):
        app.include_router(module.router)
    return app
