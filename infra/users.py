"""People and roles: who may sign in, and who may decide an approval."""

from __future__ import annotations

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


async def add_user(conn: asyncpg.Connection, name: str, role: str, password: str | None = None) -> str:
    """Create a user; returns the password (a fresh one-time password unless one is given)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError("a user name is letters, digits, '-', '_' or '.'")
    one_time = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        await conn.execute(
            "INSERT INTO users (name, role, password_hash, must_change_password) VALUES ($1, $2, $3, $4)",
            name, role, hash_password(password), one_time,
        )
    except asyncpg.UniqueViolationError:
        raise ValueError(f"user {name!r} exists already") from None
    return password


async def get_user(conn: asyncpg.Connection, name: str) -> User | None:
    row = await conn.fetchrow("SELECT name, role, must_change_password FROM users WHERE name = $1", name)
    return User(row["name"], row["role"], row["must_change_password"]) if row else None


async def authenticate(conn: asyncpg.Connection, name: str, password: str) -> User | None:
    """The user if the password is right; None otherwise (same answer for an unknown name)."""
    row = await conn.fetchrow("SELECT name, role, password_hash, must_change_password FROM users WHERE name = $1", name)
    if row is None:
        verify_password(_DUMMY_HASH, password)  # spend the same time as for a real user
        return None
    if not verify_password(row["password_hash"], password):
        return None
    return User(row["name"], row["role"], row["must_change_password"])


async def set_password(conn: asyncpg.Connection, name: str, password: str) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = $2, must_change_password = false WHERE name = $1", name, hash_password(password)
    )


_DUMMY_HASH = hash_password("driftline-dummy")
