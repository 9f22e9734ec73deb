"""Actions a person starts: a rollback (one other approver) and a data deletion (an admin starts, another approves)."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from schemas.action import ActionSpec
from schemas.envelope import new_id
from ui import queries
from ui.auth import Session
from ui.csrf import token_ok
from ui.deploy import DeployRefused, deploy_request, look_up
from ui.models_view import versions
from ui.pages import render, signed_in

router = APIRouter()
EXPIRY = timedelta(hours=24)  # a person-started request waits longer than an agent's: people sleep


class PersonRequest(NamedTuple):
    action: ActionSpec
    summary: str
    impact: str


def rollback_request(user: str, model: str, to_version: str, reason: str) -> PersonRequest:
    action = ActionSpec(action_id=new_id(), kind="rollback_model", model=model, params={"to_version": to_version},
                        tier="one_approver", reason=reason)
    return PersonRequest(action, f"{user} asks to roll {model} back to version {to_version}: {reason}",
                         f"Version {to_version} becomes champion; predictions are served by it at once.")


def delete_request(user: str, model: str, dataset: str, before: str, reason: str) -> PersonRequest:
    params = {"dataset": dataset} | ({"before": before} if before else {})
    action = ActionSpec(action_id=new_id(), kind="delete_data", model=model, params=params, tier="human_only",
                        reason=reason)
    scope = f" recorded before {before}" if before else ""
    return PersonRequest(action, f"{user} asks to delete the data of {dataset}{scope}: {reason}",
                         "The data is gone for good; models trained on it stay.")


@router.get("/actions")
async def actions_page(request: Request, session: Session = Depends(signed_in)):
    async with request.app.state.pool.acquire() as conn:
        _, rows = versions(await queries.model_events(conn))
    return render(request, "actions.html", session, versions=[r["version"] for r in rows], error="")


async def _start(request: Request, session: Session, csrf_token: str, asked: PersonRequest | None, allowed: bool):
    if not token_ok(session, csrf_token):
        return render(request, "message.html", session, status_code=403, title="Refused",
                      message="Missing or wrong form token.")
    if not allowed or asked is None:
        return render(request, "message.html", session, status_code=403, title="Refused",
                      message="Your role may not start this action.")
    approval_id = await request.app.state.desk.request(session.user, asked.action, summary=asked.summary,
                                                       predicted_impact=asked.impact, ttl=EXPIRY)
    return RedirectResponse(f"/approvals/{approval_id}", status_code=303)


@router.post("/actions/rollback")
async def start_rollback(request: Request, session: Session = Depends(signed_in), to_version: str = Form(...),
                         reason: str = Form(""), csrf_token: str = Form("")):
    """A rollback request; any approver but its requester may approve it."""
    ok = session.user.can_decide("approver") and bool(to_version.strip())
    asked = rollback_request(session.user.name, request.app.state.settings.model_name, to_version.strip(),
                             reason.strip()[:500]) if ok else None
    return await _start(request, session, csrf_token, asked, ok)


@router.post("/actions/deploy")
async def start_deploy(request: Request, session: Session = Depends(signed_in), version: str = Form(...),
                       reason: str = Form(""), csrf_token: str = Form("")):
    """A deployment of a chosen registry version; any approver but its requester may approve it. A version the
    registry does not have is refused here, before any approval exists."""
    ok = session.user.can_decide("approver") and bool(version.strip())
    asked = None
    if ok and token_ok(session, csrf_token):
        settings = request.app.state.settings
        try:
            target, champion = await look_up(settings, version[:40])
        except DeployRefused as exc:
            return render(request, "message.html", session, status_code=404, title="Not deployable",
                          message=str(exc))
        asked = deploy_request(session.user.name, settings.model_name, target, champion, reason.strip()[:500],
                               settings.selection_metric)
    return await _start(request, session, csrf_token, asked, ok)


@router.post("/actions/delete-data")
async def start_delete(request: Request, session: Session = Depends(signed_in), dataset: str = Form(...),
                       before: str = Form(""), reason: str = Form(""), csrf_token: str = Form("")):
    """A deletion request: only an admin starts one, and a second admin must approve it."""
    ok = session.user.role == "admin" and bool(dataset.strip())
    asked = delete_request(session.user.name, request.app.state.settings.model_name, dataset.strip()[:200],
                           before.strip()[:40], reason.strip()[:500]) if ok else None
    return await _start(request, session, csrf_token, asked, ok)
