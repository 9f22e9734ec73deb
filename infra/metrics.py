"""Prometheus metrics shared by every consumer."""

from prometheus_client import Counter, Gauge

PROCESSED = Counter("driftline_consumer_messages_processed_total", "Messages handled and acknowledged.", ["consumer"])
DEAD_LETTERED = Counter("driftline_consumer_dead_lettered_total", "Messages sent to the dead-letter subject.", ["consumer"])
RETRIED = Counter("driftline_consumer_retries_total", "Messages negatively acknowledged for redelivery.", ["consumer"])
LAG = Gauge("driftline_consumer_lag_messages", "Messages not yet delivered to the consumer.", ["consumer"])
ACK_PENDING = Gauge("driftline_consumer_ack_pending_messages", "Deliveries awaiting acknowledgement.", ["consumer"])
