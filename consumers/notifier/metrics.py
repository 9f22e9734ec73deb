"""Prometheus metrics of notifications and reports."""

from prometheus_client import Counter, Histogram

NOTIFICATIONS = Counter("driftline_notifications_total", "Notifications handled, by channel and outcome.",
                        ["channel", "outcome"])  # outcome: sent, failed, duplicate
NOTIFY_FAILURES = Counter("driftline_notification_failures_total",
                          "Notifications given up after every retry, by channel.", ["channel"])
NOTIFY_ATTEMPTS = Counter("driftline_notification_attempts_total", "Delivery attempts, by channel.", ["channel"])
REPORTS = Counter("driftline_reports_built_total", "Reports built, by kind and outcome.", ["kind", "outcome"])
REPORT_SECONDS = Histogram("driftline_report_build_seconds", "Time to gather and render one report.", ["kind"],
                           buckets=(0.5, 1, 2, 5, 10, 30, 60, 120))
