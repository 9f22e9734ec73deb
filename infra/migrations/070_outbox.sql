-- The transactional outbox: a change to a table and the events it must announce are written in one transaction;
-- one relay publishes the rows in id order and marks them (at least once: the event id is the Nats-Msg-Id, so a
-- republish within JetStream's duplicate window is one stored event, and consumers are idempotent beyond it).
CREATE TABLE IF NOT EXISTS outbox (
    id           bigserial   PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    subject      text        NOT NULL,
    type         text        NOT NULL,
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Severity is a field of the request (copied from the diagnosis), never parsed from the summary's words.
ALTER TABLE approvals ADD COLUMN IF NOT EXISTS severity text;
