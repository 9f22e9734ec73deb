"""What every page shares: the signed-in session, templates, and rendering with the navigation's context."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ui.auth import Session, current
from ui.words import action_words, names

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["action_words"] = action_words  # {"kind": "rollback_model", ...} -> "roll m back to v1"
templates.env.filters["names"] = names  # "`worst radius` moved up" -> "<b>worst radius</b> moved up", escaped


class NeedSignIn(Exception):
    """The request has no valid session: send the person to the sign-in page."""

    def __init__(self, next_url: str):
        self.next_url = next_url


class NeedNewPassword(Exception):
    """The person signed in with a one-time password and must choose their own first."""


async def signed_in(request: Request) -> Session:
    """FastAPI dependency: the session, or a redirect to sign in (or to choose a password)."""
    session = await current(request)
    if session is None:
        raise NeedSignIn(request.url.path)
    if session.user.must_change_password and request.url.path != "/password":
        raise NeedNewPassword()
    return session


def redirect_sign_in(request: Request, exc: NeedSignIn) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)


def redirect_password(request: Request, exc: NeedNewPassword) -> RedirectResponse:
    return RedirectResponse("/password", status_code=303)


def render(request: Request, name: str, session: Session | None, status_code: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"session": session, **context}, status_code=status_code)
