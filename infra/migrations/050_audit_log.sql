-- The audit trail's PostgreSQL copy: one row per AUDIT stream message, in stream order, hash-chained.
-- hash = sha256(prev_hash || canonical): each row vouches for every row before it.
CREATE TABLE IF NOT EXISTS audit_log (
    seq            bigint      PRIMARY KEY,
    event_id       text        NOT NULL,
    subject        text        NOT NULL,
    type           text        NOT NULL,
    time           timestamptz,
    correlation_id text        NOT NULL DEFAULT '',
    causation_id   text,
    actor          text        NOT NULL DEFAULT '',
    story          text        NOT NULL DEFAULT '',
    outcome        text        NOT NULL DEFAULT '',
    canonical      text        NOT NULL,
    prev_hash      text        NOT NULL,
    hash           text        NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_correlation ON audit_log (correlation_id, seq);
CREATE INDEX IF NOT EXISTS audit_log_type ON audit_log (type, seq);

-- Insert-only: nobody, not even the projector, may change or remove a row once written.
CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is insert-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS audit_log_insert_only ON audit_log;
CREATE TRIGGER audit_log_insert_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- Incident read model: one row per correlation id, folded from the audit log.
CREATE TABLE IF NOT EXISTS audit_incidents (
    correlation_id text        PRIMARY KEY,
    model          text        NOT NULL DEFAULT '',
    title          text        NOT NULL DEFAULT '',
    first_seq      bigint      NOT NULL,
    last_seq       bigint      NOT NULL,
    started_at     timestamptz,
    last_at        timestamptz,
    events         integer     NOT NULL,
    status         text        NOT NULL DEFAULT 'open'
);
CREATE INDEX IF NOT EXISTS audit_incidents_last ON audit_incidents (last_seq DESC);
