-- The trace context of the change an outbox row announces (W3C traceparent, NULL while tracing is off): the relay
-- publishes it as the event's header, so the trace goes on past the outbox.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent text;
