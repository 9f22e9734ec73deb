"""The runtime configuration page: current values and the history of change_config versions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ui import config_view, queries
from ui.auth import Session
from ui.pages import render, signed_in

router = APIRouter()


@router.get("/config")
async def config_page(request: Request, session: Session = Depends(signed_in)):
    async with request.app.state.pool.acquire() as conn:
        changes = await queries.config_changes(conn)
    return render(request, "config.html", session, current=config_view.current(changes, request.app.state.settings),
                  history=config_view.history(changes), version=changes[0]["version"] if changes else 0)
