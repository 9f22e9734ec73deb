-- Shadow challengers (issue 17): the monitor is the one writer of these three tables.
-- Challengers' answers waiting for the label of their request (prediction.shadowed), one per challenger version.
CREATE TABLE IF NOT EXISTS shadow_predictions (
    model              text        NOT NULL,
    request_id         text        NOT NULL,
    challenger_version text        NOT NULL,
    champion_version   text        NOT NULL,
    alias              text        NOT NULL,
    predicted_class    text        NOT NULL,
    made_at            timestamptz NOT NULL,
    PRIMARY KEY (model, request_id, challenger_version)
);
CREATE INDEX IF NOT EXISTS shadow_predictions_made_at ON shadow_predictions (made_at);

-- The paired sequential test of each (challenger, champion) pair: consumers/monitor/sequential.ShadowTest as JSON,
-- saved in the transaction that saves the monitor's stream position (a redelivered label is never counted twice).
CREATE TABLE IF NOT EXISTS shadow_tests (
    model              text        NOT NULL,
    challenger_version text        NOT NULL,
    champion_version   text        NOT NULL,
    alias              text        NOT NULL,
    state              jsonb       NOT NULL,
    decision           text,
    decision_event_id  text,
    started_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, challenger_version, champion_version)
);

-- The test's course, one point per batch of labels that added pairs: what the page draws (difference, band,
-- statistic against its threshold).
CREATE TABLE IF NOT EXISTS shadow_test_points (
    model              text             NOT NULL,
    challenger_version text             NOT NULL,
    champion_version   text             NOT NULL,
    pairs              integer          NOT NULL,
    difference         double precision NOT NULL,
    lower_bound        double precision NOT NULL,
    upper_bound        double precision NOT NULL,
    statistic          double precision NOT NULL,
    threshold          double precision NOT NULL,
    at                 timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (model, challenger_version, champion_version, pairs)
);
