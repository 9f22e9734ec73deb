-- People who may sign in to the approval page or decide from the terminal.
CREATE TABLE IF NOT EXISTS users (
    name                 text        PRIMARY KEY,
    role                 text        NOT NULL CHECK (role IN ('viewer', 'approver', 'admin')),
    password_hash        text        NOT NULL,
    must_change_password boolean     NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now()
);

-- Read model of approval requests. The approval gate inserts a row when it requests an approval; the
-- person deciding (web page or terminal) moves it out of 'pending' under a row lock, which makes a
-- second decision impossible, then publishes driftline.approval.decided; the gate schedules or escalates.
CREATE TABLE IF NOT EXISTS approvals (
    approval_id      text        PRIMARY KEY,
    request_event_id text        NOT NULL UNIQUE,
    correlation_id   text        NOT NULL,
    model            text        NOT NULL,
    action           jsonb       NOT NULL,
    action_hash      text        NOT NULL,
    required_role    text        NOT NULL DEFAULT 'approver' CHECK (required_role IN ('approver', 'admin')),
    requested_by     text        NOT NULL,
    summary          text        NOT NULL,
    evidence         jsonb       NOT NULL DEFAULT '[]',
    predicted_impact text        NOT NULL DEFAULT '',
    diagnosis_id     text,
    requested_at     timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    decided_by       text,
    decided_at       timestamptz,
    decision_comment text,
    decision_via     text
);
CREATE INDEX IF NOT EXISTS approvals_pending ON approvals (requested_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS approvals_correlation ON approvals (correlation_id);
