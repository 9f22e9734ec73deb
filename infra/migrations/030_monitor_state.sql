-- Drift monitor (issue 5): detector state and hysteresis per model, saved with the last stream sequence it covers,
-- so a restarted monitor resumes where it stopped and never raises an alert twice.
CREATE TABLE IF NOT EXISTS monitor_state (
    model      text        PRIMARY KEY,
    version    text        NOT NULL,
    last_seq   bigint      NOT NULL,
    state      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Predictions waiting for their late label, joined by request id.
CREATE TABLE IF NOT EXISTS monitor_predictions (
    model           text        NOT NULL,
    request_id      text        NOT NULL,
    predicted_class text        NOT NULL,
    made_at         timestamptz NOT NULL,
    PRIMARY KEY (model, request_id)
);
CREATE INDEX IF NOT EXISTS monitor_predictions_made_at ON monitor_predictions (made_at);
