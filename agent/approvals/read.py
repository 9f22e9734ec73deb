"""Reading the approvals table (the page, the terminal, the executor); only `book` writes it."""

from __future__ import annotations

import asyncpg


async def get(conn: asyncpg.Connection, approval_id: str, *, lock: bool = False) -> dict | None:
    row = await conn.fetchrow(
        "SELECT * FROM approvals WHERE approval_id = $1" + (" FOR UPDATE" if lock else ""), approval_id
    )
    return dict(row) if row else None


async def pending(conn: asyncpg.Connection) -> list[dict]:
    rows = await conn.fetch("SELECT * FROM approvals WHERE status = 'pending' ORDER BY requested_at")
    return [dict(r) for r in rows]
