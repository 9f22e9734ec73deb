"""Traffic drawn from the champion's training data, with drift injected from a chosen row, and late labels.

Drift, from row `drift_at` on. The world changes: a mean shift of SIGMAS standard deviations (`shift`), a scale
change around the mean by FACTOR (`scale`), a new category mix (`mix`: FEATURE -> {value: weight}), and a concept
change (`concept`: inside the top share of one feature the label relation flips). A sensor fails: a feature stuck
at one value (`stuck`) or turning null (`null`); the outcome still follows the true value, only the model's input
is broken. `gradual` ramps all of it in over that many rows (shifts and scales grow linearly; the other changes hit
a growing share of rows). Labels are each sampled row's own, or, with a `Teacher`, drawn from a fixed relation.
Seeded: the same seed and data give the same rows, the same drift and the same labels.
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
from producers.publisher import PUBLISH_ATTEMPTS, _plain, request_event
from producers.teacher import Teacher

SOURCE = "producers/simulator"


@dataclass(frozen=True)
class Drift:
    drift_at: int | None = None
    shift: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    mix: dict[str, dict[str, float]] = field(default_factory=dict)
    concept: tuple[str, float] | None = None
    gradual: int = 0
    stuck: dict[str, str] = field(default_factory=dict)
    null: tuple[str, ...] = ()

    def check(self, frame: pd.DataFrame, target: str) -> None:
        """Refuse drift on features the data does not have, or a numeric drift on a text column."""
        concept = [self.concept[0]] if self.concept else []
        features = [c for c in frame.columns if c != target]
        for what, names in (("shift", self.shift), ("scale", self.scale), ("mix", self.mix), ("concept", concept),
                            ("stuck", self.stuck), ("null", self.null)):
            for name in names:
                if name not in features:
                    raise ValueError(f"--{what}: unknown feature {name!r}; features are: "
                                     f"{', '.join(map(repr, features))}")
        for what, names in (("shift", self.shift), ("scale", self.scale), ("concept", concept)):
            for name in names:
                if not pd.api.types.is_numeric_dtype(frame[name]):
                    raise ValueError(f"--{what}: feature {name!r} is not numeric: use a category mix instead")
        if self.concept and not 0 < self.concept[1] < 1:
            raise ValueError(f"--concept {self.concept[0]!r}: the top share must be between 0 and 1, "
                             f"got {self.concept[1]:g}")
        if self.concept and frame[target].nunique() != 2:
            raise ValueError(f"--concept: flipping the label relation needs a two-class target; {target!r} has "
                             f"{frame[target].nunique()} classes")
        if self.gradual < 0:
            raise ValueError(f"--gradual must be a number of rows >= 0, got {self.gradual}")

    def weight(self, i: int) -> float:
        """How much of the drift row i gets: 0 before `drift_at`, then ramping to 1 over `gradual` rows."""
        if self.drift_at is None or i < self.drift_at:
            return 0.0
        return min(1.0, (i - self.drift_at + 1) / self.gradual) if self.gradual else 1.0


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


def parse_stuck(items: list[str] | None) -> dict[str, str]:
    """FEATURE=VALUE pairs, the value as text (typed by its column when the data is known)."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"stuck {item!r}: expected FEATURE=VALUE")
        out[name.strip()] = value.strip()
    return out


def _stuck_values(drift: Drift, features: pd.DataFrame) -> dict[str, object]:
    """Each stuck value in its column's type: a number for a numeric column, the text for a category."""
    out = {}
    for name, value in drift.stuck.items():
        if not pd.api.types.is_numeric_dtype(features[name]):
            out[name] = value
            continue
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--stuck {name}={value}: {name!r} is numeric, so the value must be a number") from None
        out[name] = int(number) if pd.api.types.is_integer_dtype(features[name]) and number.is_integer() else number
    return out


def parse_concept(item: str | None) -> tuple[str, float] | None:
    """FEATURE=TOP_SHARE: the segment (the top share of that feature) where the label relation flips."""
    if item is None:
        return None
    [(name, share)] = parse_assignments([item], "concept").items()
    if not 0 < share < 1:
        raise ValueError(f"concept {item!r}: TOP_SHARE is a share between 0 and 1 (0.3 = the top 30%)")
    return name, share


def simulate_rows(frame: pd.DataFrame, target: str, rows: int, seed: int, drift: Drift,
                  teacher: Teacher | None = None) -> Iterator[SimRow]:
    """`rows` records sampled with replacement from `frame`, drift applied from `drift.drift_at` on; labels the
    rows' own, or drawn from `teacher`."""
    drift.check(frame, target)
    rng = np.random.default_rng(seed)
    # Everything the older options did not draw (ramps, labels) comes from a second stream, so that the traffic of
    # a seed without these options stays what it was.
    extra = np.random.default_rng([seed, 1])
    features = frame.drop(columns=[target])
    mean, std = features.mean(numeric_only=True), features.std(numeric_only=True).fillna(0.0)
    integer = {c for c in features.columns if pd.api.types.is_integer_dtype(features[c])}
    picks = rng.integers(0, len(frame), size=rows)
    mix = {name: (list(w), np.array(list(w.values())) / sum(w.values())) for name, w in drift.mix.items()}
    records = features.to_dict("records")
    labels = frame[target].tolist()
    classes = sorted(frame[target].dropna().unique().tolist())
    stuck = _stuck_values(drift, features)
    cut = float(features[drift.concept[0]].quantile(1 - drift.concept[1])) if drift.concept else None
    for i, pick in enumerate(picks):
        record = {name: _plain(value) for name, value in records[pick].items()}
        w = drift.weight(i)
        drifted = w > 0

        def hit(w: float = w) -> bool:  # whether a row inside a gradual ramp already gets a change that is not a size
            return w >= 1 or extra.random() < w

        if drifted:
            for name, sigmas in drift.shift.items():
                record[name] = record[name] + w * sigmas * float(std[name])
            for name, factor in drift.scale.items():
                record[name] = float(mean[name]) + (record[name] - float(mean[name])) * (1 + w * (factor - 1))
            for name, (values, weights) in mix.items():
                if hit():
                    record[name] = values[int(rng.choice(len(values), p=weights))]
            for name in integer & (set(drift.shift) | set(drift.scale)):
                record[name] = int(round(record[name]))
        flip = drifted and cut is not None and record[drift.concept[0]] > cut and hit()
        if teacher is not None:
            p = teacher.p_record(record)
            label = classes[1] if extra.random() < (1 - p if flip else p) else classes[0]
        else:
            label = labels[pick]
            label = (classes[0] if label == classes[1] else classes[1]) if flip else label
        if drifted:  # sensors fail after the outcome was decided by the true values
            for name, value in stuck.items():
                if hit():
                    record[name] = value
            for name in drift.null:
                if hit():
                    record[name] = None
        yield SimRow(i, record, _plain(label), drifted)


async def run_simulation(bus: Bus, frame: pd.DataFrame, target: str, *, model: str, rows: int, rate: float,
                         seed: int, drift: Drift, label_delay: float, chunk: int = 200,
                         teacher: Teacher | None = None) -> dict:
    """Publish the simulated requests at `rate`, and each true label `label_delay` seconds after its request."""
    run = uuid.uuid4().hex[:8]
    labels = LabelScheduler(bus, label_delay)
    stop = asyncio.Event()
    label_task = asyncio.create_task(labels.run(stop))
    start, sent, drifted, batch = time.monotonic(), 0, 0, []
    try:
        for row in simulate_rows(frame, target, rows, seed, drift, teacher):
            event = request_event(row.features, model=model, request_id=f"sim-{run}-{row.index}", source=SOURCE)
            batch.append((event, row.label))
            drifted += row.drifted
            sent += 1
            due = start + sent / rate if rate else 0
            if len(batch) >= chunk or due - time.monotonic() > 0 or sent == rows:
                await bus.publish_many([e for e, _ in batch], attempts=PUBLISH_ATTEMPTS)
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
