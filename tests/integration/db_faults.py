"""A real PostgreSQL fault for a test: the first statement a trigger matches fails, later ones pass."""

from __future__ import annotations


async def fail_first(conn, name: str, when: str, message: str = "database went away") -> None:
    """Make the first `when` (e.g. "BEFORE INSERT ON audit_log FOR EACH STATEMENT") raise `message`. A sequence
    counts the calls: it is not rolled back with the failed statement. `SELECT nextval('<name>_calls')` tells a
    test how often the trigger ran (plus one)."""
    await conn.execute(f"""
        CREATE SEQUENCE {name}_calls;
        CREATE FUNCTION {name}() RETURNS trigger AS $$
        BEGIN
            IF nextval('{name}_calls') = 1 THEN RAISE EXCEPTION '{message}'; END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER {name} {when} EXECUTE FUNCTION {name}();""")
