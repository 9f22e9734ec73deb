"""Column profiles: what contract inference must know of a column, computed on one part of the data and merged.

A whole data frame is one part (local training); a Dask data frame is many (one per partition). Merging is
exact for what inference decides: counts add, extremes compare, and each set of distinct values keeps at most
`cap` members, which tells whether a column has more distinct values than a bound (`cap` is one past it) and,
when it has not, holds all of them (every part then held all of its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd


def smallest(values: set, cap: int) -> set:
    """The `cap` smallest members: the same set whichever way the parts were cut (failure examples use it)."""
    return values if len(values) <= cap else set(sorted(values)[:cap])


def _some(values: pd.Series, cap: int, text: bool) -> frozenset:
    """At most `cap` distinct values; only those become text (str() on a million numbers is seconds)."""
    distinct = values.unique()[:cap]
    return frozenset(str(v) for v in distinct) if text else frozenset(float(v) for v in distinct)


def _first(a: frozenset, b: frozenset, cap: int) -> frozenset:
    union = a | b
    return union if len(union) <= cap else frozenset(sorted(union)[:cap])


@dataclass(frozen=True)
class ColumnProfile:
    rows: int = 0
    nulls: int = 0
    numbers: int = 0  # non-null values that parse as numbers
    low: float = math.inf
    high: float = -math.inf
    boolean: bool = True  # every part had a bool dtype (True/False are categories, not 1/0)
    distinct_numbers: frozenset = field(default_factory=frozenset)  # at most `cap` of them
    distinct_texts: frozenset = field(default_factory=frozenset)  # str(value), at most `cap` of them

    @property
    def present(self) -> int:
        return self.rows - self.nulls

    @property
    def number_share(self) -> float:
        return self.numbers / self.present if self.present else 0.0

    @property
    def null_share(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @classmethod
    def of(cls, series: pd.Series, cap: int) -> ColumnProfile:
        values = series.dropna()
        boolean = pd.api.types.is_bool_dtype(series)
        parsed = values if pd.api.types.is_numeric_dtype(values) and not boolean else pd.to_numeric(
            values.astype(object) if boolean else values, errors="coerce")
        if boolean:
            parsed = parsed.iloc[0:0]  # a bool column is never counted as numbers
        numbers = parsed.dropna().astype(float)
        return cls(
            rows=len(series), nulls=len(series) - len(values), numbers=len(numbers),
            low=float(numbers.min()) if len(numbers) else math.inf,
            high=float(numbers.max()) if len(numbers) else -math.inf,
            boolean=boolean and len(series) > 0,
            distinct_numbers=_some(numbers, cap, text=False),
            distinct_texts=_some(values, cap, text=True),
        )

    def merged(self, other: ColumnProfile, cap: int) -> ColumnProfile:
        if not self.rows:
            return other
        if not other.rows:
            return self
        return replace(
            self, rows=self.rows + other.rows, nulls=self.nulls + other.nulls, numbers=self.numbers + other.numbers,
            low=min(self.low, other.low), high=max(self.high, other.high), boolean=self.boolean and other.boolean,
            distinct_numbers=_first(self.distinct_numbers, other.distinct_numbers, cap),
            distinct_texts=_first(self.distinct_texts, other.distinct_texts, cap),
        )


@dataclass(frozen=True)
class FrameProfile:
    """Profiles of every feature column plus the target's class counts and the row count."""

    columns: dict[str, ColumnProfile]
    classes: dict  # label -> rows
    rows: int

    @classmethod
    def of(cls, frame: pd.DataFrame, target: str, cap: int) -> FrameProfile:
        labels = frame[target].dropna()
        return cls(
            columns={c: ColumnProfile.of(frame[c], cap) for c in frame.columns if c != target},
            classes={(k.item() if hasattr(k, "item") else k): int(v) for k, v in labels.value_counts().items()},
            rows=len(frame),
        )

    def merged(self, other: FrameProfile, cap: int) -> FrameProfile:
        columns = dict(self.columns)
        for name, profile in other.columns.items():
            columns[name] = columns[name].merged(profile, cap) if name in columns else profile
        classes = dict(self.classes)
        for label, count in other.classes.items():
            classes[label] = classes.get(label, 0) + count
        return FrameProfile(columns, classes, self.rows + other.rows)
