"""Prometheus metrics of notifications."""

from prometheus_client import Counter

NOTIFICATIONS = Counter("driftline_notifications_total", "Notifications handled, by channel and outcome.",
                        ["channel", "outcome"])  # outcome: sent, failed, duplicate
NOTIFY_FAILURES = Counter("driftline_notification_failures_total",
                          "Notifications given up after every retry, by channel.", ["channel"])
NOTIFY_ATTEMPTS = Counter("driftline_notification_attempts_total", "Delivery attempts, by channel.", ["channel"])
