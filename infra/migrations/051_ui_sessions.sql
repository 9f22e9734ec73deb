-- Server-side sessions of the approval page. The cookie holds a signed random id; only its sha256 is
-- stored, so a copy of this table cannot be replayed as cookies. Signing out deletes the row.
CREATE TABLE IF NOT EXISTS ui_sessions (
    id_hash    text        PRIMARY KEY,
    user_name  text        NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ui_sessions_user ON ui_sessions (user_name);
