-- Issue 14: one incident per model and family (drift of any kind; serving; data quality), re-scored as its
-- evidence grows and resolved only by a passed verification or a person. Its state (evidence, severity, the
-- repair being verified) is kept as JSON between events; agent_models holds what the diagnoser knows of each
-- model's registry history and its latest window reports.
ALTER TABLE agent_incidents ADD COLUMN IF NOT EXISTS family text NOT NULL DEFAULT 'drift';
ALTER TABLE agent_incidents ADD COLUMN IF NOT EXISTS phase text NOT NULL DEFAULT 'open';
ALTER TABLE agent_incidents ADD COLUMN IF NOT EXISTS state jsonb;
CREATE INDEX IF NOT EXISTS agent_incidents_open_family ON agent_incidents (model, family) WHERE status = 'open';

CREATE TABLE IF NOT EXISTS agent_models (
    model        text        PRIMARY KEY,
    champion     text,
    previous     text,
    promoted_at  timestamptz,
    recent       jsonb       NOT NULL DEFAULT '[]',   -- the last few DriftWindowReport bodies, newest last
    updated_at   timestamptz NOT NULL DEFAULT now()
);
