"""Traffic drawn from the champion's training data, with drift injected from a chosen row, and late labels.

Drift, from row `drift_at` on: a mean shift of SIGMAS standard deviations (`shift`), a scale change around the
mean by FACTOR (`scale`), and a new category mix (`mix`: FEATURE -> {value: weight}). Seeded: the same seed and
data give the same rows, the same drift and the same labels.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from infra.bus import Bus
from producers.labels import LabelScheduler, label_for
from producers.publisher import _plain, request_event

SOURCE = "producers/simulator"


@dataclass(frozen=True)
class Drift:
    drift_at: int | None = None
    shift: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    mix: dict[str, dict[str, float]] = field(default_factory=dict)

    def check(self, frame: pd.DataFrame) -> None:
        """Refuse drift on features the data does not have, or a numeric drift on a text column."""
        for name in (*self.shift, *self.scale, *self.mix):
            if name not in frame.columns:
                raise ValueError(f"unknown feature {name!r}; features are: {', '.join(map(repr, frame.columns))}")
        for name in (*self.shift, *self.scale):
            if not pd.api.types.is_numeric_dtype(frame[name]):
                raise ValueError(f"feature {name!r} is not numeric: use a category mix instead")


@dataclass(frozen=True)
class SimRow:
    index: int
    features: dict
    label: object
    drifted: bool


def parse_assignments(items: list[str] | None, what: str) -> dict[str, float]:
    """FEATURE=NUMBER pairs from repeated command-line options."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"{what} {item!r}: expected FEATURE=NUMBER")
    return out


def parse_mix(items: list[str] | None) -> dict[str, dict[str, float]]:
    """FEATURE=VALUE:WEIGHT,VALUE:WEIGHT pairs: the category mix after the drift row."""
    out = {}
    for item in items or []:
        name, _, spec = item.partition("=")
        weights = {}
        for part in filter(None, spec.split(",")):
            value, _, weight = part.rpartition(":")
            try:
                weights[value] = float(weight)
            except ValueError:
                value = ""
            if not value:
                raise ValueError(f"mix {item!r}: expected FEATURE=VALUE:WEIGHT[,VALUE:WEIGHT...]")
        if not name or not weights or sum(weights.values()) <= 0:
            raise ValueError(f"mix {item!r}: expected FEATURE=VALUE:WEIGHT[,VALUE:WEIGHT...]")
        out[name] = weights
    return out


def simulate_rows(frame: pd.DataFrame, target: str, rows: int, seed: int, drift: Drift) -> Iterator[SimRow]:
    """`rows` records sampled with replacement from `frame`, drift applied from `drift.drift_at` on."""
    drift.check(frame)
    rng = np.random.default_rng(seed)
    features = frame.drop(columns=[target])
    mean, std = features.mean(numeric_only=True), features.std(numeric_only=True).fillna(0.0)
    integer = {c for c in features.columns if pd.api.types.is_integer_dtype(features[c])}
    picks = rng.integers(0, len(frame), size=rows)
    mix = {name: (list(w), np.array(list(w.values())) / sum(w.values())) for name, w in drift.mix.items()}
    records = features.to_dict("records")
    labels = frame[target].tolist()
    for i, pick in enumerate(picks):
        record = {name: _plain(value) for name, value in records[pick].items()}
        drifted = drift.drift_at is not None and i >= drift.drift_at
        if drifted:
            for name, sigmas in drift.shift.items():
                record[name] = record[name] + sigmas * float(std[name])
            for name, factor in drift.scale.items():
                record[name] = float(mean[name]) + (record[name] - float(mean[name])) * factor
            for name, (values, weights) in mix.items():
                record[name] = values[int(rng.choice(len(values), p=weights))]
            for name in integer & (set(drift.shift) | set(drift.scale)):
                record[name] = int(round(record[name]))
        yield SimRow(i, record, _plain(labels[pick]), drifted)


async def run_simulation(bus: Bus, frame: pd.DataFrame, target: str, *, model: str, rows: int, rate: float,
                         seed: int, drift: Drift, label_delay: float, chunk: int = 200) -> dict:
    """Publish the simulated requests at `rate`, and each true label `label_delay` seconds after its request."""
    run = uuid.uuid4().hex[:8]
    labels = LabelScheduler(bus, label_delay)
    stop = asyncio.Event()
    label_task = asyncio.create_task(labels.run(stop))
    start, sent, drifted, batch = time.monotonic(), 0, 0, []
    try:
        for row in simulate_rows(frame, target, rows, seed, drift):
            event = request_event(row.features, model=model, request_id=f"sim-{run}-{row.index}", source=SOURCE)
            batch.append((event, row.label))
            drifted += row.drifted
            sent += 1
            due = start + sent / rate if rate else 0
            if len(batch) >= chunk or due - time.monotonic() > 0 or sent == rows:
                await bus.publish_many([e for e, _ in batch])
                for e, label in batch:
                    labels.schedule(label_for(e, label, SOURCE))
                batch = []
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
    finally:
        stop.set()
        await label_task
    return {"requests": sent, "drifted": drifted, "labels": labels.published, "run": run,
            "seconds": round(time.monotonic() - start, 2)}
