"""People and roles: who may sign in, and who may decide an approval."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("viewer", "approver", "admin")
_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters


@dataclass(frozen=True)
class User:
    name: str
    role: str
    must_change_password: bool = False

    def can_decide(self, required_role: str = "approver") -> bool:
        """Approvers decide ordinary requests; only admins decide those that require an admin."""
        return ROLES.index(self.role) >= ROLES.index(required_role)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class SignInLimits:
    """Failed sign-ins tolerated per user and per address within the window, and how long a one-time password lasts."""

    per_user: int = 5
    per_address: int = 20
    window_minutes: float = 15.0
    one_time_hours: float = 24.0


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: the person, or why not (wrong, throttled, expired)."""

    user: User | None
    problem: str = ""  # "", "wrong", "throttled", "expired"

    def words(self) -> str:
        return {"wrong": "Wrong user name or password.",
                "throttled": "Too many failed sign-ins; wait a few minutes and try again.",
                "expired": "Your one-time password expired; ask an admin for a new one (driftline users reset NAME)."
                }.get(self.problem, "")


async def add_user(conn: asyncpg.Connection, name: str, role: str, password: str | None = None,
                   limits: SignInLimits = SignInLimits()) -> str:
    """Create a user; returns the password (a fresh one-time password, valid for a day, unless one is given)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError("a user name is letters, digits, '-', '_' or '.'")
    one_time = password is None
    password = password or secrets.token_urlsafe(12)
    hashed = await asyncio.to_thread(hash_password, password)
    try:
        await conn.execute(
            "INSERT INTO users (name, role, password_hash, must_change_password, password_expires_at) "
            "VALUES ($1, $2, $3, $4, CASE WHEN $4 THEN now() + make_interval(secs => $5) END)",
            name, role, hashed, one_time, limits.one_time_hours * 3600,
        )
    except asyncpg.UniqueViolationError:
        raise ValueError(f"user {name!r} exists already") from None
    return password


async def reset_password(conn: asyncpg.Connection, name: str, limits: SignInLimits = SignInLimits()) -> str:
    """A new one-time password for an existing user (they choose their own at the next sign-in)."""
    password = secrets.token_urlsafe(12)
    hashed = await asyncio.to_thread(hash_password, password)
    done = await conn.fetchval(
        "UPDATE users SET password_hash = $2, must_change_password = true, "
        "password_expires_at = now() + make_interval(secs => $3) WHERE name = $1 RETURNING 1",
        name, hashed, limits.one_time_hours * 3600)
    if not done:
        raise ValueError(f"no user {name!r}")
    return password


async def get_user(conn: asyncpg.Connection, name: str) -> User | None:
    row = await conn.fetchrow("SELECT name, role, must_change_password FROM users WHERE name = $1", name)
    return User(row["name"], row["role"], row["must_change_password"]) if row else None


async def sign_in(conn: asyncpg.Connection, name: str, password: str, address: str,
                  limits: SignInLimits = SignInLimits()) -> SignIn:
    """Check a password, throttled per user and per address; Argon2 runs off the event loop.

    Each attempt is recorded as a failure first and counted with those recorded before it, so that concurrent
    guesses cannot all pass the count before any of them is recorded (tests/security: 20 at a time got 9 guesses
    past a limit of 5 while the count came first). The record is taken back when the attempt was throttled (a flood
    costs one insert and one delete, never a hash) or right."""
    user, where = name[:100], address[:200]
    mine = await conn.fetchval("INSERT INTO sign_in_failures (user_name, address) VALUES ($1, $2) RETURNING id",
                               user, where)
    recent = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE user_name = $1) AS by_user, count(*) FILTER (WHERE address = $2) AS by_address "
        "FROM sign_in_failures WHERE at > now() - make_interval(secs => $3) AND id < $4 "
        "AND (user_name = $1 OR address = $2)", user, where, limits.window_minutes * 60, mine)
    if recent["by_user"] >= limits.per_user or recent["by_address"] >= limits.per_address:
        await conn.execute("DELETE FROM sign_in_failures WHERE id = $1", mine)
        return SignIn(None, "throttled")
    row = await conn.fetchrow("SELECT name, role, password_hash, must_change_password, password_expires_at FROM users "
                              "WHERE name = $1", name)
    good = await asyncio.to_thread(verify_password, row["password_hash"] if row else _DUMMY_HASH, password)
    if row is None or not good:  # an unknown name costs the same time as a known one; the record stays
        return SignIn(None, "wrong")
    await conn.execute("DELETE FROM sign_in_failures WHERE id = $1", mine)
    if row["must_change_password"] and row["password_expires_at"] is not None \
            and row["password_expires_at"] <= await conn.fetchval("SELECT now()"):
        return SignIn(None, "expired")
    return SignIn(User(row["name"], row["role"], row["must_change_password"]))


async def authenticate(conn: asyncpg.Connection, name: str, password: str, address: str = "local") -> User | None:
    """The user if the password is right (and not throttled or expired); None otherwise."""
    return (await sign_in(conn, name, password, address)).user


async def set_password(conn: asyncpg.Connection, name: str, password: str) -> None:
    """A person's own password; the caller ends their other sessions."""
    hashed = await asyncio.to_thread(hash_password, password)
    await conn.execute("UPDATE users SET password_hash = $2, must_change_password = false, password_expires_at = NULL "
                       "WHERE name = $1", name, hashed)


_DUMMY_HASH = hash_password("driftline-dummy")
