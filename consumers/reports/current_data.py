"""The features the model actually served in a drift window, read back from the PREDICTIONS stream."""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import datetime

from nats.js import JetStreamContext

from infra.stream_reader import read_stream
from schemas.prediction import PredictionMade

log = logging.getLogger(__name__)


async def window_features(js: JetStreamContext, start: datetime, end: datetime, model: str | None = None,
                          limit: int = 20_000):
    """A DataFrame of the features of PredictionMade events in [start, end], or None when none are retained."""
    import pandas as pd

    rows: list[dict] = []
    try:
        reader = read_stream(js, "PREDICTIONS", subjects=(PredictionMade.topic,), start_time=start)
        async with contextlib.aclosing(reader) as stream:
            async for stored in stream:
                doc = json.loads(stored.data)
                when = datetime.fromisoformat(doc["time"])
                if when > end or len(rows) >= limit:
                    break
                data = doc.get("data", {})
                if model is None or data.get("model") == model:
                    rows.append(data.get("features", {}))
    except Exception as exc:  # stream missing or expired: the report says so instead of failing
        log.warning("current data for %s..%s unavailable: %s", start, end, exc)
        return None
    return pd.DataFrame(rows) if rows else None
