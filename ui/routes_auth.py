"""Sign in, sign out, and choosing a password after a one-time one."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from infra.users import set_password, sign_in
from ui.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Session,
    current,
    end_all_sessions,
    end_session,
    set_cookie,
    start_session,
)
from ui.csrf import login_token_ok, token_ok
from ui.pages import render, signed_in

router = APIRouter()


def _safe_next(next_url: str) -> str:
    # Only paths on this site: never an absolute or protocol-relative URL.
    return next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"


@router.get("/login")
async def login_page(request: Request, next: str = "/"):
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, csrf_token=token, next=_safe_next(next), error="")
    set_cookie(response, request.app.state.settings, LOGIN_COOKIE, request.app.state.signer.sign(token), 600)
    return response


@router.post("/login")
async def login(request: Request, username: str = Form(""), password: str = Form(""),
                csrf_token: str = Form(""), next: str = Form("/")):
    state = request.app.state
    cookie_token = state.signer.unsign(request.cookies.get(LOGIN_COOKIE))
    if not login_token_ok(cookie_token, csrf_token):
        return render(request, "login.html", None, status_code=403, csrf_token=cookie_token or "",
                      next=_safe_next(next), error="The form expired; please sign in again.")
    address = request.client.host if request.client else "unknown"
    async with state.pool.acquire() as conn:
        attempt = await sign_in(conn, username[:100], password, address, state.settings.sign_in_limits)
        if attempt.user is None:
            status = {"throttled": 429, "expired": 403}.get(attempt.problem, 401)
            return render(request, "login.html", None, status_code=status, csrf_token=cookie_token,
                          next=_safe_next(next), error=attempt.words())
        user = attempt.user
        # A new session id at every sign-in (a cookie planted before it is worth nothing after it).
        await end_session(conn, state.signer.unsign(request.cookies.get(SESSION_COOKIE)))
        session_id, _ = await start_session(conn, user, state.settings.ui_session_hours)
    target = "/password" if user.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, state.settings, SESSION_COOKIE, state.signer.sign(session_id),
               int(state.settings.ui_session_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def logout(request: Request, csrf_token: str = Form("")):
    session = await current(request)
    if session is None or not token_ok(session, csrf_token):
        return render(request, "message.html", session, status_code=403, title="Refused",
                      message="Missing or wrong form token.")
    async with request.app.state.pool.acquire() as conn:
        await end_session(conn, request.app.state.signer.unsign(request.cookies.get(SESSION_COOKIE)))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/password")
async def password_page(request: Request, session: Session = Depends(signed_in)):
    return render(request, "password.html", session, error="")


@router.post("/password")
async def change_password(request: Request, session: Session = Depends(signed_in), password: str = Form(""),
                          repeat: str = Form(""), csrf_token: str = Form("")):
    if not token_ok(session, csrf_token):
        return render(request, "message.html", session, status_code=403, title="Refused",
                      message="Missing or wrong form token.")
    if len(password) < 10 or password != repeat:
        return render(request, "password.html", session, status_code=400,
                      error="Use at least 10 characters, the same twice.")
    state = request.app.state
    async with state.pool.acquire() as conn:
        await set_password(conn, session.user.name, password)
        await end_all_sessions(conn, session.user.name)  # a stolen cookie dies with the old password
        session_id, _ = await start_session(conn, session.user, state.settings.ui_session_hours)
    response = RedirectResponse("/", status_code=303)
    set_cookie(response, state.settings, SESSION_COOKIE, state.signer.sign(session_id),
               int(state.settings.ui_session_hours * 3600))
    return response
