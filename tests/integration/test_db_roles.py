"""One PostgreSQL role per service, each with only its grants, against the real server (password auth on)."""

from __future__ import annotations

import asyncpg
import pytest

from infra.db_roles import EVERY_ROLE_READS, NO_ROLE, ROLES, role_name

pytestmark = pytest.mark.integration

SERVICES = ("projector", "monitor", "notifier", "agent", "ui", "cli", "auditor")
# (role, statement, what PostgreSQL says): every one must be refused.
REFUSED = [
    *[(role, "UPDATE audit_log SET actor = 'mallory'", "permission denied") for role in SERVICES],
    *[(role, "DELETE FROM audit_log", "permission denied") for role in SERVICES],
    *[(role, "TRUNCATE audit_log", "permission denied") for role in SERVICES],
    *[(role, "ALTER TABLE audit_log DISABLE TRIGGER USER", "must be owner") for role in SERVICES],
    *[(role, "DROP TRIGGER audit_log_insert_only ON audit_log", "must be owner") for role in SERVICES],
    *[(role, "SET session_replication_role = replica", "permission denied") for role in SERVICES],
    *[(role, "INSERT INTO audit_log (seq, event_id, subject, type, canonical, prev_hash, hash) "
             "VALUES (999, 'x', 's', 't', '{}', 'p', 'h')", "permission denied")
      for role in SERVICES if role != "projector"],
    *[(role, "INSERT INTO approvals (approval_id, request_event_id, correlation_id, model, action, action_hash, "
             "requested_by, summary, requested_at, expires_at) VALUES ('forged', 'e', 'c', 'm', '{}', 'h', 'agent', "
             "'s', now(), now() + interval '1 hour')", "permission denied")
      for role in ("projector", "monitor", "notifier", "auditor")],
    *[(role, "UPDATE approvals SET status = 'approved'", "permission denied")
      for role in ("projector", "monitor", "notifier", "auditor")],
    *[(role, "SELECT * FROM approvals", "permission denied") for role in ("monitor", "projector", "auditor")],
    *[(role, "SELECT password_hash FROM users", "permission denied") for role in ("monitor", "notifier", "projector",
                                                                                 "auditor")],
    *[(role, "CREATE TABLE mine (x int)", "permission denied") for role in SERVICES],
    *[(role, "CREATE SCHEMA mine", "permission denied") for role in SERVICES if role != "cli"],
    ("auditor", "INSERT INTO audit_incidents (correlation_id, first_seq, last_seq, events) VALUES ('c', 1, 1, 1)",
     "permission denied"),
    ("ui", "DELETE FROM users", "permission denied"),
    ("agent", "UPDATE users SET role = 'admin'", "permission denied"),
    ("monitor", "INSERT INTO outbox (event_id, subject, type, payload) VALUES ('e', 's', 't', '')",
     "permission denied"),
    ("notifier", "UPDATE monitor_state SET version = 'x'", "permission denied"),
    ("projector", "CREATE ROLE mallory SUPERUSER", "permission denied"),
]


async def as_role(role_url, role: str) -> asyncpg.Connection:
    return await asyncpg.connect(role_url(role))


@pytest.mark.parametrize("role", SERVICES)
async def test_a_service_role_is_refused_what_is_not_its_own(role_url, role):
    """Every statement of REFUSED for this role, on one connection (each its own transaction): all refused, with
    PostgreSQL's own words."""
    attempts = [(sql, words) for r, sql, words in REFUSED if r == role]
    conn = await as_role(role_url, role)
    not_refused = []
    try:
        for sql, words in attempts:
            try:
                await conn.execute(sql)
                not_refused.append((sql, "accepted"))
            except asyncpg.PostgresError as exc:
                if words not in str(exc):
                    not_refused.append((sql, str(exc)))
    finally:
        await conn.close()
    assert len(attempts) >= 8 and not not_refused, not_refused


async def test_every_table_has_a_decision_and_no_service_owns_one(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        tables = {r["tablename"]: r["tableowner"] for r in await conn.fetch(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")}
        superuser = await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        attributes = await conn.fetch("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                                      "WHERE rolname LIKE 'driftline\\_%'")
    finally:
        await conn.close()
    decided = set(EVERY_ROLE_READS) | set(NO_ROLE) | {t for spec in ROLES.values() for t in spec.tables}
    assert set(tables) <= decided, f"tables without a decision in infra/db_roles.py: {set(tables) - decided}"
    assert not set(tables.values()) & {role_name(r) for r in ROLES}  # the tables' owner is no service's role
    assert superuser  # (the test's admin owns them, as the embedded server's superuser does under `up`)
    assert {r["rolname"] for r in attributes} >= {role_name(r) for r in ROLES}
    assert not any(r["rolsuper"] or r["rolcreaterole"] or r["rolcreatedb"] or r["rolbypassrls"] for r in attributes)


async def test_the_projector_inserts_the_log_and_each_role_reads_what_it_needs(role_url):
    projector = await as_role(role_url, "projector")
    try:
        await projector.execute("INSERT INTO audit_log (seq, event_id, subject, type, canonical, prev_hash, hash) "
                                "VALUES (1, 'e', 's', 't', '{}', 'p', 'h')")
        with pytest.raises(asyncpg.PostgresError, match="permission denied"):
            await projector.execute("UPDATE audit_log SET hash = 'x' WHERE seq = 1")
    finally:
        await projector.close()
    for role in ("ui", "cli", "auditor"):
        conn = await as_role(role_url, role)
        try:
            assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1
        finally:
            await conn.close()


async def test_a_role_needs_its_password_and_cannot_be_the_superuser(role_url, postgres_server):
    dsn = role_url("monitor")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(dsn.replace(dsn.split("@")[0].split(":")[-1], "wrong-password"))
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(postgres_server.dsn("postgres").replace(postgres_server.password, "guess"))
    conn = await as_role(role_url, "monitor")
    try:
        with pytest.raises(asyncpg.PostgresError, match="permission denied"):
            await conn.execute("SET ROLE postgres")
    finally:
        await conn.close()


async def test_the_cli_rebuilds_in_a_schema_of_its_own(role_url):
    conn = await as_role(role_url, "cli")
    try:
        await conn.execute("CREATE SCHEMA audit_rebuild_test")
        await conn.execute("CREATE TABLE audit_rebuild_test.audit_log (LIKE public.audit_log INCLUDING ALL)")
        await conn.execute("DROP SCHEMA audit_rebuild_test CASCADE")
    finally:
        await conn.close()


async def test_a_role_cannot_grant_itself_more(role_url):
    conn = await as_role(role_url, "cli")
    try:  # PostgreSQL only warns ("no privileges were granted"): what counts is that nothing was
        await conn.execute("GRANT INSERT, UPDATE, TRUNCATE ON audit_log TO driftline_cli")
        assert not await conn.fetchval("SELECT has_table_privilege('audit_log', 'INSERT') OR "
                                       "has_table_privilege('audit_log', 'UPDATE') OR "
                                       "has_table_privilege('audit_log', 'TRUNCATE')")
        with pytest.raises(asyncpg.PostgresError, match="permission denied"):
            await conn.execute("INSERT INTO audit_log (seq, event_id, subject, type, canonical, prev_hash, hash) "
                               "VALUES (7, 'x', 's', 't', '{}', 'p', 'h')")
    finally:
        await conn.close()
