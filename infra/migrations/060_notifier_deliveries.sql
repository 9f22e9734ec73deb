-- Issue 8: one row per (event, channel) the notifier handled; the row is the idempotency key and the record.
CREATE TABLE IF NOT EXISTS notifier_deliveries (
    event_id    text        NOT NULL,
    channel     text        NOT NULL,
    event_type  text        NOT NULL,
    severity    text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    integer     NOT NULL DEFAULT 0,
    error       text        NOT NULL DEFAULT '',
    report      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (event_id, channel)
);
CREATE INDEX IF NOT EXISTS notifier_deliveries_failed ON notifier_deliveries (created_at) WHERE status = 'failed';
