"""Pending approvals, one approval with its evidence, deciding it, and the decided history."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from infra import approvals
from schemas.envelope import utcnow
from ui import decisions, evidence, queries
from ui.auth import Session, current
from ui.csrf import token_ok
from ui.pages import render, signed_in

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/")
async def pending_page(request: Request, session: Session = Depends(signed_in)):
    async with request.app.state.pool.acquire() as conn:
        rows = await queries.pending(conn)
    return render(request, "pending.html", session, rows=rows)


@router.get("/fragments/pending")
async def pending_fragment(request: Request, session: Session = Depends(signed_in)):
    """The pending list alone, for the page's script to swap in when the live count changes."""
    async with request.app.state.pool.acquire() as conn:
        rows = await queries.pending(conn)
    return render(request, "_pending_list.html", session, rows=rows)


@router.get("/history")
async def history_page(request: Request, session: Session = Depends(signed_in)):
    async with request.app.state.pool.acquire() as conn:
        rows = await queries.history(conn)
    return render(request, "history.html", session, rows=rows)


@router.get("/approvals/{approval_id}")
async def approval_page(request: Request, approval_id: str, session: Session = Depends(signed_in)):
    async with request.app.state.pool.acquire() as conn:
        row = await approvals.get(conn, approval_id)
        if row is None:
            return render(request, "message.html", session, status_code=404, title="Not found",
                          message="No such approval request.")
        row = queries.approval_row(row)
        diagnosis = await queries.diagnosis_for(conn, row)
        reports = await queries.drift_reports(conn, row["model"])
    items, action = row["evidence"], row["action"]
    involved = list((diagnosis or {}).get("features") or []) + list(action.get("params", {}).get("features") or [])
    links = evidence.report_links(items, (diagnosis or {}).get("evidence"), reports[-3:])
    can_decide = (session.user.can_decide(row["required_role"]) and session.user.name != row["requested_by"]
                  and row["status"] == "pending")
    return render(request, "approval.html", session, row=row, action=action, items=items, diagnosis=diagnosis,
                  charts=evidence.feature_charts(reports, involved), reports=[evidence.report_href(u) for u in links],
                  action_json=json.dumps(action, indent=2, sort_keys=True), can_decide=can_decide)


@router.post("/approvals/{approval_id}/decide")
async def decide(request: Request, approval_id: str, decision: str = Form(""), comment: str = Form(""),
                 action_hash: str = Form(""), csrf_token: str = Form("")):
    """Approve or reject: ApprovalDecided on success; ApprovalRefused (and 403/404/409) on any refusal."""
    state = request.app.state
    session = await current(request)
    who = session.user.name if session else "anonymous"
    async with state.pool.acquire() as conn:
        if session is None or not token_ok(session, csrf_token) or decision not in ("approve", "reject"):
            row = await approvals.get(conn, approval_id)
            reason, detail, status = _early_refusal(session, decision)
            await state.bus.publish(decisions.refused(row, approval_id, who, decision, reason, detail))
            return _refusal_page(request, session, status, detail)
        now = utcnow()
        row, refusal = await approvals.decide(conn, approval_id, session.user, decision, action_hash, now,
                                              comment=comment[:2000], via="web")
    if refusal is not None:
        await state.bus.publish(decisions.refused(row, approval_id, who, decision, refusal.reason, refusal.detail))
        return _refusal_page(request, session, refusal.http_status, refusal.detail)
    try:
        await state.bus.publish(decisions.decided(row, session.user.name, decision, row["decision_comment"] or "", now))
    except Exception as exc:  # saved but not announced: ui.announcer publishes it (same id) when the bus is back
        log.warning("decision on %s saved, announcement failed: %s", approval_id, exc)
        return render(request, "message.html", session, status_code=202, title="Saved",
                      message="Your decision is saved; it will be announced as soon as the bus answers.")
    return RedirectResponse(f"/incidents/{row['correlation_id']}", status_code=303)


def _early_refusal(session: Session | None, decision: str) -> tuple[str, str, int]:
    if session is None:
        return "not_allowed", "not signed in", 403
    if decision not in ("approve", "reject"):
        return "not_allowed", f"unknown decision {decision[:40]!r}", 400
    return "bad_csrf", "the form's CSRF token is missing or wrong", 403


def _refusal_page(request: Request, session: Session | None, status: int, detail: str):
    return render(request, "message.html", session, status_code=status, title="Refused", message=detail)
