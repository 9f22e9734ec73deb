"""Alerts for the agent's unit tests: one builder, fixed times, so verdicts can be pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import AlertRaised

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def alert(kind="data_drift", value=0.3, threshold=0.2, features=("mean_radius",), minutes=5, labelled=0,
          statistic="psi", at=T0, model="driftline-classifier", labels=None, **extra) -> AlertRaised:
    window = {"start": at - timedelta(minutes=minutes), "end": at, "events": 500, "labelled": labelled}
    return AlertRaised(source="consumers/monitor", subject=model, time=at, data=dict(
        kind=kind, model=model, model_version="1", fingerprint=f"{model}:{kind}", features=list(features),
        statistic=statistic, value=value, threshold=threshold, window=window, detector="test",
        report_url="http://reports/1.html", labels=labels or {}, **extra))
