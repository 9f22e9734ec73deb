"""Recent labelled production data: predictions joined with their late labels from the PREDICTIONS stream."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from nats.js import JetStreamContext

from infra.stream_reader import read_stream
from schemas import LabelReceived, PredictionMade, parse_event
from schemas.streams import PREDICTIONS


async def labelled_rows(js: JetStreamContext, model: str, target: str, *, since: datetime | None = None,
                        max_rows: int = 20_000) -> pd.DataFrame:
    """Features of each answered request whose true label arrived, with the label in column `target`, in the
    order the predictions were made (newest last: a promotion is judged on the newest, split by time)."""
    features: dict[str, dict] = {}  # request id -> features, in stream order of the predictions
    labels: dict[str, object] = {}
    async for msg in read_stream(js, PREDICTIONS.name, subjects=(PredictionMade.topic, LabelReceived.topic),
                                 start_time=since):
        event = parse_event(msg.data)
        if event.data.model != model:
            continue
        if isinstance(event, PredictionMade):
            features[event.data.request_id] = event.data.features
        else:
            labels[event.data.request_id] = event.data.label
    rows = [{**row, target: labels[rid]} for rid, row in features.items() if rid in labels]
    return pd.DataFrame(rows[-max_rows:])
