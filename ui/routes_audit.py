"""Incidents and their timelines, model versions, trends, and the Evidently reports behind the evidence."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from ui import evidence, queries
from ui.auth import Session
from ui.latency import latency_chart
from ui.models_view import versions
from ui.pages import render, signed_in
from ui.shadow_view import shadow_rows

router = APIRouter()


@router.get("/incidents")
async def incidents_page(request: Request, session: Session = Depends(signed_in)):
    async with request.app.state.pool.acquire() as conn:
        rows = await queries.incidents(conn)
    return render(request, "incidents.html", session, rows=rows)


@router.get("/incidents/{correlation_id}")
async def timeline_page(request: Request, correlation_id: str, session: Session = Depends(signed_in)):
    async with request.app.state.pool.acquire() as conn:
        summary = await queries.incident(conn, correlation_id)
        rows = await queries.timeline(conn, correlation_id)
    return render(request, "timeline.html", session, correlation_id=correlation_id, summary=summary, rows=rows)


@router.get("/models")
async def models_page(request: Request, session: Session = Depends(signed_in)):
    async with request.app.state.pool.acquire() as conn:
        events = await queries.model_events(conn)
        tests = await queries.shadow_tests(conn, request.app.state.settings.model_name)
    champion, rows = versions(events)
    return render(request, "models.html", session, champion=champion, rows=rows, shadow=shadow_rows(tests))


@router.get("/trends")
async def trends_page(request: Request, session: Session = Depends(signed_in)):
    state = request.app.state
    async with state.pool.acquire() as conn:
        reports = await queries.drift_reports(conn, state.settings.model_name, limit=200)
    charts = evidence.trend_charts(reports)
    if not evidence.reports_latency(reports):
        charts.append(await latency_chart(state.bus.js, state.settings.model_name))
    return render(request, "trends.html", session, charts=charts, count=len(reports))


@router.get("/reports/{path:path}")
async def report_file(request: Request, path: str, session: Session = Depends(signed_in)):
    """A file under reports_dir, read-only, for signed-in people; nothing outside that folder."""
    root = Path(request.app.state.settings.reports_dir).resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return render(request, "message.html", session, status_code=404, title="Not found",
                      message="No such report.")
    return FileResponse(target, headers={"Content-Security-Policy": "sandbox allow-scripts",
                                         "X-Content-Type-Options": "nosniff"})
