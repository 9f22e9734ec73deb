-- The agent's own state. Incidents fold an alert storm into one correlation id; every alert the diagnoser
-- handled is remembered so a redelivered alert re-emits the same diagnosis instead of opening a new incident.
CREATE TABLE IF NOT EXISTS agent_incidents (
    incident_id    text        PRIMARY KEY,   -- id of the first alert = the correlation id
    model          text        NOT NULL,
    kind           text        NOT NULL,
    opened_at      timestamptz NOT NULL,
    last_alert_at  timestamptz NOT NULL,
    alert_count    integer     NOT NULL DEFAULT 1,
    status         text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_reason  text,
    diagnosis      jsonb                      -- the DiagnosisMade event, re-published on redelivery
);
CREATE INDEX IF NOT EXISTS agent_incidents_open ON agent_incidents (model, kind) WHERE status = 'open';

CREATE TABLE IF NOT EXISTS agent_incident_alerts (
    alert_id    text PRIMARY KEY,
    incident_id text NOT NULL REFERENCES agent_incidents (incident_id)
);

-- The executor's ledger: one row per action id. 'started' is committed before the effect, 'completed' or
-- 'failed' (with the outcome event) after it; a redelivery of a finished action re-publishes the outcome.
CREATE TABLE IF NOT EXISTS agent_actions (
    action_id     text        PRIMARY KEY,
    kind          text        NOT NULL,
    model         text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('started', 'completed', 'failed')),
    attempts      integer     NOT NULL DEFAULT 1,
    scheduled_id  text        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    outcome       jsonb                        -- the ActionCompleted / ActionFailed event
);

-- Versioned configuration applied by change_config; one version per action at most.
CREATE TABLE IF NOT EXISTS agent_config_versions (
    version    serial      PRIMARY KEY,
    config     jsonb       NOT NULL,
    applied_by text        NOT NULL,
    action_id  text        UNIQUE,
    applied_at timestamptz NOT NULL DEFAULT now()
);
