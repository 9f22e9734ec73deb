"""Sign-in: signed HttpOnly SameSite=Strict cookies naming a server-side session row."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
from fastapi import Request

from infra.settings import Settings
from infra.users import User
from schemas.envelope import utcnow

SESSION_COOKIE = "driftline_session"
LOGIN_COOKIE = "driftline_login"  # carries the sign-in form's CSRF token before there is a session


class Signer:
    """HMAC-SHA256 over a value: the cookie is `value.signature`; anything else reads as no cookie."""

    def __init__(self, key: bytes):
        self.key = key

    def sign(self, value: str) -> str:
        mac = hmac.new(self.key, value.encode(), hashlib.sha256).digest()
        return f"{value}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    def unsign(self, cookie: str | None) -> str | None:
        if not cookie or "." not in cookie:
            return None
        value, _, _ = cookie.rpartition(".")
        return value if hmac.compare_digest(self.sign(value), cookie) else None


def secret_key(settings: Settings) -> bytes:
    """The configured key, else one kept in data_dir/ui_secret (created once, readable by the owner only)."""
    if settings.ui_secret_key is not None:
        return settings.ui_secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "ui_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def start_session(conn: asyncpg.Connection, user: User, hours: float) -> tuple[str, str]:
    """A new session row for `user`; returns (session id for the cookie, its CSRF token)."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO ui_sessions (id_hash, user_name, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
        _digest(session_id), user.name, csrf, utcnow() + timedelta(hours=hours))
    return session_id, csrf


async def load_session(conn: asyncpg.Connection, session_id: str | None) -> Session | None:
    if not session_id:
        return None
    row = await conn.fetchrow(
        """SELECT u.name, u.role, u.must_change_password, s.csrf_token FROM ui_sessions s
           JOIN users u ON u.name = s.user_name WHERE s.id_hash = $1 AND s.expires_at > now()""",
        _digest(session_id))
    if row is None:
        return None
    return Session(User(row["name"], row["role"], row["must_change_password"]), row["csrf_token"])


async def end_session(conn: asyncpg.Connection, session_id: str | None) -> None:
    if session_id:
        await conn.execute("DELETE FROM ui_sessions WHERE id_hash = $1 OR expires_at <= now()", _digest(session_id))


async def end_all_sessions(conn: asyncpg.Connection, user_name: str) -> None:
    await conn.execute("DELETE FROM ui_sessions WHERE user_name = $1", user_name)


async def current(request: Request) -> Session | None:
    """The signed-in session of this request, if any (read only: a GET changes nothing)."""
    session_id = request.app.state.signer.unsign(request.cookies.get(SESSION_COOKIE))
    async with request.app.state.pool.acquire() as conn:
        return await load_session(conn, session_id)


def set_cookie(response, settings: Settings, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=settings.ui_secure_cookies, path="/")
