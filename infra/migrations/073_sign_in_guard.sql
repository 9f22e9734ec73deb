-- Issue 15: failed sign-ins are counted per user and per address (page and terminal alike) and throttle both;
-- a one-time password expires; a password change ends every session of the person.
CREATE TABLE IF NOT EXISTS sign_in_failures (
    id        bigserial   PRIMARY KEY,
    user_name text        NOT NULL,
    address   text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sign_in_failures_user ON sign_in_failures (user_name, at);
CREATE INDEX IF NOT EXISTS sign_in_failures_address ON sign_in_failures (address, at);
ALTER TABLE users ADD COLUMN IF NOT EXISTS password_expires_at timestamptz;
