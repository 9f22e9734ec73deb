"""CSRF: every state-changing POST carries the session's token in its form; compared in constant time."""

from __future__ import annotations

import hmac

from ui.auth import Session


def token_ok(session: Session | None, submitted: str | None) -> bool:
    """True if the form's token is the session's own."""
    if session is None or not submitted:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), submitted.encode())


def login_token_ok(cookie_token: str | None, submitted: str | None) -> bool:
    """The sign-in form has no session yet: its token must equal the one in the signed pre-login cookie."""
    if not cookie_token or not submitted:
        return False
    return hmac.compare_digest(cookie_token.encode(), submitted.encode())
