"""Helpers for the monitor's integration and end-to-end tests: seeded prediction events and reading AUDIT."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np

from schemas import LabelReceived, PredictionMade, parse_event
from tests.model_fixtures import breast_cancer_frame


def prediction_events(loaded, rows: int, *, seed: int = 0, drift_at: int | None = None, shift: dict | None = None,
                      start: datetime | None = None) -> tuple[list[PredictionMade], list[LabelReceived]]:
    """Rows drawn from breast cancer, scored by `loaded` (a LoadedModel), with mean shifts (in sd) from drift_at."""
    frame = breast_cancer_frame()
    rng = np.random.default_rng(seed)
    picked = frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)
    feats = loaded.features
    if drift_at is not None:
        for name, sigmas in (shift or {}).items():
            picked.loc[drift_at:, name] += sigmas * frame[name].std()
    proba = loaded.model.predict_proba(picked[feats])
    start = start or datetime.now(UTC)
    preds, labels = [], []
    for i, (row, p) in enumerate(zip(picked[feats].to_dict("records"), proba, strict=True)):
        cls = int(np.argmax(p))
        preds.append(PredictionMade(
            source="test", subject=loaded.name, time=start + timedelta(milliseconds=i),
            data=dict(request_id=f"s{seed}-r{i}", model=loaded.name, model_version=loaded.version, features=row,
                      predicted_class=cls, probabilities={"0": float(p[0]), "1": float(p[1])}, latency_ms=1.0,
                      channel="bus")))
        labels.append(LabelReceived(source="test", subject=loaded.name, time=start + timedelta(milliseconds=i),
                                    data=dict(request_id=f"s{seed}-r{i}", model=loaded.name,
                                              label=int(picked["target"][i]))))
    return preds, labels


async def audit_events(bus, subject: str = "driftline.>") -> list:
    """Every event stored in AUDIT under `subject`, in stream order."""
    info = await bus.js.stream_info("AUDIT")
    if info.state.messages == 0:
        return []
    sub = await bus.js.pull_subscribe(subject, stream="AUDIT")
    out = []
    try:
        while True:
            try:
                msgs = await sub.fetch(500, timeout=0.5)
            except TimeoutError:
                break
            for m in msgs:
                out.append(parse_event(m.data))
                await m.ack()
    finally:
        await sub.unsubscribe()
    return out


async def wait_for(check, timeout: float = 60.0, every: float = 0.2):
    """Poll an async `check` until it returns something truthy."""
    async with asyncio.timeout(timeout):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(every)
