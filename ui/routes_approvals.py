"""Pending approvals, one approval with its evidence, deciding it, and the decided history."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from prometheus_client import Counter

from ui import evidence, queries, words
from ui.auth import Session, current
from ui.csrf import token_ok
from ui.pages import render, signed_in

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
        row = await queries.approval(conn, approval_id)
        if row is None:
            return render(request, "message.html", session, status_code=404, title="Not found",
                          message="No such approval request.")
        diagnosis = await queries.diagnosis_for(conn, row)
        reports = await queries.drift_reports(conn, row["model"])
    items, action = row["evidence"], row["action"]
    involved = list((diagnosis or {}).get("features") or []) + list(action.get("params", {}).get("features") or [])
    links = evidence.report_links(items, (diagnosis or {}).get("evidence"), reports[-3:])
    can_decide = (session.user.can_decide(row["required_role"]) and session.user.name != row["requested_by"]
                  and row["status"] == "pending")
    return render(request, "approval.html", session, row=row, action=action, items=items, diagnosis=diagnosis,
                  what=words.action_words(action, row["model"]), signals=words.signal_rows((diagnosis or {}).get("signals")),
                  pictures=evidence.drift_pictures(reports), overview=evidence.feature_overview(reports, involved),
                  reports=[evidence.report_href(u) for u in links],
                  action_json=json.dumps(action, indent=2, sort_keys=True), can_decide=can_decide)


# What each refusal means for the person's browser.
HTTP_STATUS = {"self_approval": 403, "not_allowed": 403, "already_decided": 409, "expired": 409,
               "action_changed": 409, "unknown_request": 404}
ANONYMOUS = Counter("driftline_ui_refused_anonymous_total",
                    "Decision attempts without a signed-in person or form token (counted, never written to the audit).",
                    ["reason"])


@router.post("/approvals/{approval_id}/decide")
async def decide(request: Request, approval_id: str, decision: str = Form(""), comment: str = Form(""),
                 action_hash: str = Form(""), csrf_token: str = Form("")):
    """Approve or reject through the approvals owner; a refusal answers 403/404/409 with the reason."""
    session = await current(request)
    if session is None or not token_ok(session, csrf_token):
        reason = "not_signed_in" if session is None else "bad_csrf"
        ANONYMOUS.labels(reason).inc()
        detail = "not signed in" if session is None else "the form's CSRF token is missing or wrong"
        return _refusal_page(request, session, 403, detail)
    if decision not in ("approve", "reject"):
        return _refusal_page(request, session, 400, f"unknown decision {decision[:40]!r}; approve or reject")
    verdict = await request.app.state.desk.decide(approval_id, session.user, decision, action_hash,
                                                  comment=comment, via="web")
    if verdict.refusal is not None:
        return _refusal_page(request, session, HTTP_STATUS[verdict.refusal.reason], verdict.refusal.detail)
    return RedirectResponse(f"/incidents/{verdict.row['correlation_id']}", status_code=303)


def _refusal_page(request: Request, session: Session | None, status: int, detail: str):
    return render(request, "message.html", session, status_code=status, title="Refused", message=detail)
