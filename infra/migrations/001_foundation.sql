-- Idempotency ledger: a side-effecting consumer records each event id it handled in the
-- same transaction as the effect, so a redelivered event has no second effect.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
