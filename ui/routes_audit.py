"""Incidents and their timelines, model versions, trends, and the Evidently reports behind the evidence."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from ui import evidence, queries, timeline_words, words
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
    return render(request, "incidents.html", session, rows=[words.incident_view(r) for r in rows])


@router.get("/incidents/{correlation_id}")
async def timeline_page(request: Request, correlation_id: str, session: Session = Depends(signed_in)):
    async with request.app.state.pool.acquire() as conn:
        summary = await queries.incident(conn, correlation_id)
        rows = await queries.timeline(conn, correlation_id)
    return render(request, "timeline.html", session, correlation_id=correlation_id,
                  summary=words.incident_view(summary) if summary else None, rows=timeline_words.timeline(rows))


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


# A report PDF's name, as the report builder stores them (consumers/reports/names.py): kind, then an id of letters,
# digits, dots and dashes. Anything else is refused before the file system is asked.
PDF_KINDS = ("deployment", "drift", "incident")
PDF_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")


@router.get("/reports/{kind}/{name}.pdf")
async def report_pdf(request: Request, kind: str, name: str, session: Session = Depends(signed_in)):
    """A report PDF the notifier links to, for signed-in people, shown in the browser's own PDF viewer (a sandboxed
    document would block it: a PDF runs no script of ours)."""
    if kind not in PDF_KINDS or not PDF_NAME.fullmatch(name) or ".." in name or not name.startswith(f"{kind}-"):
        return render(request, "message.html", session, status_code=404, title="Not found",
                      message=f"No such report: reports are named <kind>-<id>.pdf, kind one of {', '.join(PDF_KINDS)}.")
    target = Path(request.app.state.settings.reports_dir).resolve() / kind / f"{name}.pdf"
    if not target.is_file():
        return render(request, "message.html", session, status_code=404, title="Not built yet",
                      message=f"The {kind} report {name}.pdf is not built yet; it is built when its event happens, or "
                              f"with `driftline report {kind}`.")
    return FileResponse(target, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}.pdf"', "X-Frame-Options": "DENY",
                                 "X-Content-Type-Options": "nosniff"})


_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@router.get("/reports/{path:path}")
async def report_file(request: Request, path: str, session: Session = Depends(signed_in)):
    """A file under reports_dir, read-only, for signed-in people; nothing outside that folder."""
    root = Path(request.app.state.settings.reports_dir).resolve()
    target = (root / path).resolve()
    # Every part a plain name (no "..", no hidden file, no separator trick), and what it resolves to still inside.
    plain = all(_PART.fullmatch(part) for part in path.split("/"))
    if not plain or not target.is_relative_to(root) or not target.is_file():
        return render(request, "message.html", session, status_code=404, title="Not found",
                      message="No such report.")
    return FileResponse(target, headers={"Content-Security-Policy": "sandbox allow-scripts",
                                         "X-Content-Type-Options": "nosniff"})
