"""PostgreSQL access: a pool, and the SQL migrations applied in order at start."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 7_263_540_001  # advisory lock: two services starting at once migrate one after the other


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str, Path]]:
    """(version, name, path) of every NNN_name.sql file, in version order."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        if not number.isdigit():
            raise ValueError(f"migration {path.name} must start with a number, e.g. 001_name.sql")
        found.append((int(number), name, path))
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a number in {directory}")
    return found


class NotMigrated(RuntimeError):
    """The database lacks migrations and this role may not apply them (a service role creates nothing)."""


async def pending(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """The versions not applied yet (every one on an empty database); needs only SELECT on schema_migrations."""
    wanted = [v for v, _, _ in migration_files(directory)]
    if not await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        return wanted
    done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [v for v in wanted if v not in done]


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply every migration not yet applied, each in its own transaction; returns the versions applied.

    An up-to-date database is only read (a service's own role may check it); applying takes the owner's role."""
    if not await pending(conn, directory):
        return []
    user = await conn.fetchval("SELECT current_user")
    if not await conn.fetchval("SELECT has_schema_privilege('public', 'CREATE')"):
        raise NotMigrated(f"the database needs migrations {', '.join(map(str, await pending(conn, directory)))} and "
                          f"role {user} may not apply them: run `driftline db migrate` (or `driftline up`) as the "
                          "database's admin first")
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, path in migration_files(directory):
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
            log.info("applied migration %03d_%s", version, name)
            applied.append(version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def connect_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, run_migrations: bool = True) -> asyncpg.Pool:
    """A connection pool on a migrated database."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    if run_migrations:
        async with pool.acquire() as conn:
            await migrate(conn)
    return pool
