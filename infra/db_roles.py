"""PostgreSQL roles, one per process that touches the database, each with only the grants its code needs.

The map below is the one source of truth: `driftline up` applies it to the embedded server, `driftline db roles`
prints it as SQL for an admin (or applies it), and a test checks that every table has a decision and that each
service's code runs with exactly these grants. Tables belong to the role that migrates them (the embedded
server's superuser, or the admin of a deployment): no service role owns a table, so none can disable a trigger,
drop a table, or grant itself more.

- the approvals table is written only by the roles of processes that run the approvals owner's code: agent, ui
  and cli (the operator's terminal);
- the audit log is written only by the projector, and only by INSERT (its insert-only triggers refuse the rest,
  and only the owner could disable them);
- `auditor` reads the audit trail and nothing else (`driftline audit verify`, tools outside).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

PREFIX = "driftline_"
ALL = "SELECT, INSERT, UPDATE, DELETE"


@dataclass(frozen=True)
class Role:
    summary: str
    tables: dict[str, str]
    create_schemas: bool = False  # `audit rebuild` replays into a schema of its own

    def writes(self, table: str) -> bool:
        return "INSERT" in self.tables.get(table, "")


ROLES: dict[str, Role] = {
    "projector": Role("audit projector: appends the hash-chained audit log (insert only), folds incidents",
                      {"audit_log": "SELECT, INSERT", "audit_incidents": "SELECT, INSERT, UPDATE"}),
    "monitor": Role("drift monitor: its detector state, predictions waiting for labels, the shadow tests",
                    {"monitor_state": ALL, "monitor_predictions": ALL, "shadow_predictions": ALL,
                     "shadow_tests": ALL, "shadow_test_points": ALL}),
    "notifier": Role("notifier: its delivery records", {"notifier_deliveries": "SELECT, INSERT, UPDATE"}),
    "agent": Role("diagnoser, approval gate, executor, outbox relay: the approvals owner's code",
                  {"approvals": "SELECT, INSERT, UPDATE", "outbox": ALL, "agent_incidents": ALL,
                   "agent_incident_alerts": ALL, "agent_actions": ALL, "agent_config_versions": ALL,
                   "agent_models": ALL, "service_scale": "SELECT, INSERT, UPDATE", "users": "SELECT"}),
    "ui": Role("approval page: people's sign-in and sessions, decisions through the approvals owner's code",
               {"users": "SELECT, UPDATE", "ui_sessions": ALL, "sign_in_failures": "SELECT, INSERT, DELETE",
                "approvals": "SELECT, INSERT, UPDATE", "outbox": "SELECT, INSERT",
                "audit_log": "SELECT", "audit_incidents": "SELECT", "shadow_tests": "SELECT",
                "shadow_test_points": "SELECT"}),
    "cli": Role("the operator's terminal: users, decisions through the approvals owner's code, audit rebuild",
                {"users": "SELECT, INSERT, UPDATE", "ui_sessions": "SELECT, DELETE",
                 "sign_in_failures": "SELECT, INSERT, DELETE", "approvals": "SELECT, INSERT, UPDATE",
                 "outbox": "SELECT, INSERT", "audit_log": "SELECT", "audit_incidents": "SELECT"},
                create_schemas=True),
    "auditor": Role("read-only: the audit trail", {"audit_log": "SELECT", "audit_incidents": "SELECT"}),
}
# Tables no service role touches: the migration ledger is readable by all (a service checks it is up to date).
EVERY_ROLE_READS = ("schema_migrations",)
NO_ROLE = ("processed_events",)  # kept for idempotency ledgers; nothing writes it today


def role_name(role: str) -> str:
    return PREFIX + role


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores (RFC 5803 form): the password never travels in a statement
    a server log could show. Our passwords are ASCII, so SASLprep leaves them unchanged."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored).decode()}:{b64(server).decode()}"


def role_sql(database: str, passwords: dict[str, str] | None = None) -> list[str]:
    """Idempotent statements that create the roles (LOGIN, nothing more) and give each exactly its grants on
    `database`; with `passwords`, each role's password is set (as a SCRAM verifier, never in clear)."""
    out = []
    for role, spec in ROLES.items():
        name = role_name(role)
        out.append(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(name)}) THEN "
                   f"CREATE ROLE {_ident(name)} LOGIN; END IF; END $$")
        password = f" PASSWORD {_literal(scram_verifier(passwords[role]))}" if passwords and role in passwords else ""
        out.append(f"ALTER ROLE {_ident(name)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                   f"NOBYPASSRLS NOINHERIT{password}")
        out.append(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {_ident(name)}")
        out.append(f"{'GRANT' if spec.create_schemas else 'REVOKE'} CREATE ON DATABASE {_ident(database)} "
                   f"{'TO' if spec.create_schemas else 'FROM'} {_ident(name)}")
        out.append(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {_ident(name)}")
        out.append(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {_ident(name)}")
        out.append(f"GRANT USAGE ON SCHEMA public TO {_ident(name)}")
        for table in EVERY_ROLE_READS:
            out.append(f"GRANT SELECT ON {_ident(table)} TO {_ident(name)}")
        for table, privileges in spec.tables.items():
            out.append(f"GRANT {privileges} ON {_ident(table)} TO {_ident(name)}")
        inserted = [table for table in spec.tables if spec.writes(table)]
        if inserted:  # the sequences behind their serial columns, as the server knows them
            tables = ", ".join(_literal(t) for t in inserted)
            out.append(
                "DO $$ DECLARE s text; BEGIN FOR s IN SELECT sq.relname FROM pg_class sq "
                "JOIN pg_depend d ON d.objid = sq.oid JOIN pg_class t ON d.refobjid = t.oid "
                "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE sq.relkind = 'S' AND n.nspname = 'public' "
                f"AND d.deptype IN ('a', 'i') AND t.relname IN ({tables}) LOOP EXECUTE "
                f"format('GRANT USAGE, SELECT ON SEQUENCE public.%I TO %I', s, {_literal(name)}); END LOOP; END $$")
    return out


async def apply_roles(conn, passwords: dict[str, str] | None = None) -> None:
    """Create or update every role and its grants on the connected (migrated) database, in one transaction."""
    database = await conn.fetchval("SELECT current_database()")
    statements = role_sql(database, passwords)
    async with conn.transaction():
        for statement in statements:
            await conn.execute(statement)


def role_dsn(admin_dsn: str, role: str, password: str) -> str:
    """The admin's DSN with the role's name and password instead (same host, port, database and options)."""
    parts = urlsplit(admin_dsn)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{role_name(role)}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def dsn_file(directory: Path, role: str) -> Path:
    return Path(directory) / f"{role}.dsn"


def read_dsn(directory: Path, role: str) -> str | None:
    path = dsn_file(directory, role)
    return path.read_text().strip() if path.exists() else None


def write_dsn(directory: Path, role: str, dsn: str) -> Path:
    """One role's DSN, readable by its owner only (the folder too)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    path = dsn_file(directory, role)
    fresh = path.with_name(f".{path.name}.new")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(dsn + "\n")
    os.replace(fresh, path)
    return path


async def provision(conn, admin_dsn: str, directory: Path) -> dict[str, str]:
    """Roles on the connected database with the passwords kept in `directory` (fresh ones where none is kept),
    and one DSN file per role there; returns {role: dsn}."""
    passwords = {}
    for role in ROLES:
        kept = read_dsn(directory, role)
        password = urlsplit(kept).password if kept else None
        passwords[role] = unquote(password) if password else secrets.token_urlsafe(24)
    await apply_roles(conn, passwords)
    dsns = {role: role_dsn(admin_dsn, role, password) for role, password in passwords.items()}
    for role, dsn in dsns.items():
        write_dsn(directory, role, dsn)
    return dsns
