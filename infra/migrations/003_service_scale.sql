-- Desired replicas of each local service; the agent's scale action writes it, `driftline up` applies it.
CREATE TABLE IF NOT EXISTS service_scale (
    service    text        PRIMARY KEY,
    replicas   integer     NOT NULL CHECK (replicas BETWEEN 0 AND 16),
    updated_by text        NOT NULL DEFAULT 'unknown',
    updated_at timestamptz NOT NULL DEFAULT now()
);
