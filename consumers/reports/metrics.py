"""Prometheus metrics of report building."""

from prometheus_client import Counter, Histogram

REPORTS = Counter("driftline_reports_built_total", "Reports built, by kind and outcome.", ["kind", "outcome"])
REPORT_SECONDS = Histogram("driftline_report_build_seconds", "Time to gather and render one report.", ["kind"],
                           buckets=(0.5, 1, 2, 5, 10, 30, 60, 120))
