"""Request latency over time, from the latest prediction.made events on the PREDICTIONS stream."""

from __future__ import annotations

import json
from datetime import datetime

from infra.stream_reader import read_stream
from schemas.prediction import PredictionMade
from schemas.streams import PREDICTIONS
from ui.axes import Axis
from ui.charts import Series, line_chart


def _quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def bucketize(points: list[tuple[datetime, float]], buckets: int = 20) -> tuple[list[str], list[float], list[float]]:
    """(labels, p50, p95) over equal time buckets; empty buckets are left out. Pure."""
    if not points:
        return [], [], []
    points = sorted(points)
    start, end = points[0][0], points[-1][0]
    span = max((end - start).total_seconds(), 1e-9)
    groups: dict[int, list[float]] = {}
    for at, value in points:
        groups.setdefault(min(buckets - 1, int((at - start).total_seconds() / span * buckets)), []).append(value)
    labels, p50, p95 = [], [], []
    for index in sorted(groups):
        values = sorted(groups[index])
        at = start.timestamp() + span * (index + 0.5) / buckets
        labels.append(datetime.fromtimestamp(at, tz=start.tzinfo).strftime("%m-%d %H:%M:%S"))
        p50.append(_quantile(values, 0.5))
        p95.append(_quantile(values, 0.95))
    return labels, p50, p95


async def latency_chart(js, model: str, last: int = 5000) -> str:
    """p50 and p95 serving latency of the champion over its latest `last` predictions."""
    info = await js.stream_info(PREDICTIONS.name)
    start = max(info.state.first_seq, info.state.last_seq - last * 2)  # requests and predictions interleave
    points = []
    if info.state.messages:
        async for msg in read_stream(js, PREDICTIONS.name, subjects=(PredictionMade.topic,), start_seq=start,
                                     timeout=1.0):
            data = json.loads(msg.data).get("data") or {}
            if data.get("model") == model and isinstance(data.get("latency_ms"), int | float):
                points.append((msg.time, float(data["latency_ms"])))
    labels, p50, p95 = bucketize(points[-last:])
    return line_chart("Request latency, latest predictions",
                      [Series("p50", p50), Series("p95", p95)] if labels else [], labels, axis=Axis("ms"))
