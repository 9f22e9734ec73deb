"""Axes people read at a glance: round tick values, numbers written out as people write them, one unit per axis.
Pure; the charts in ui/charts.py and ui/dist_charts.py draw with them."""

from __future__ import annotations

import math
from dataclasses import dataclass

RATE, SCORE, COUNT, NUMBER = "rate", "score", "count", "number"


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that cuts `span` into about `ticks` parts."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power * 1.0001:
            return mult * power
    return 10 * power


def count_text(value: float) -> str:
    """1560 -> "1,560"; 12,400 -> "12.4k"; 3,200,000 -> "3.2M" (never "1.56e+03")."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:,.0f}"


def number_text(value: float, step: float = 0.0) -> str:
    """A plain decimal with as many digits as the tick step needs (at most 4); large values as counts."""
    if abs(value) >= 1e4:
        return count_text(value)
    if step > 0:
        digits = next((d for d in range(5) if abs(round(step, d) - step) < step * 1e-6), 4)
    elif float(value).is_integer():
        digits = 0
    else:  # a free value (a mean, a last point): four significant digits, never an exponent
        digits = max(0, min(4, 3 - math.floor(math.log10(abs(value)))))
    text = f"{value:,.{digits}f}"
    if step <= 0 and "." in text:  # a free value reads as 16.3, not 16.30
        text = text.rstrip("0").rstrip(".")
    return "0" if text.strip("-0.,") == "" else text


@dataclass(frozen=True)
class Axis:
    """One quantity on one axis: its unit in words, its kind (how it reads) and an optional fixed range."""

    unit: str
    kind: str = NUMBER  # rate: a share shown in %; score: 0-1 (F1, accuracy); count: whole numbers; number: plain
    lo: float | None = None
    hi: float | None = None

    def span(self, values: list[float]) -> tuple[float, float, float]:
        """(low, high, step): the data's range, widened to round ticks; rates and scores stay within 0-1."""
        finite = [v for v in values if v is not None and math.isfinite(v)]
        lo = self.lo if self.lo is not None else min([0.0, *finite]) if self.kind in (RATE, SCORE, COUNT) else \
            min(finite, default=0.0)
        hi = self.hi if self.hi is not None else max(finite, default=1.0)
        if hi - lo < 1e-12:
            hi = lo + (1.0 if self.kind != COUNT else 10.0)
        step = nice_step(hi - lo)
        if self.kind == COUNT:
            step = max(1.0, step)
        lo = math.floor(lo / step + 1e-9) * step if self.lo is None else lo
        hi = math.ceil(hi / step - 1e-9) * step if self.hi is None else hi
        return lo, hi, step

    def ticks(self, lo: float, hi: float, step: float) -> list[float]:
        n = int(round((hi - lo) / step))
        return [lo + i * step for i in range(n + 1)] if 0 < n <= 12 else [lo, hi]

    def text(self, value: float, step: float = 0.0) -> str:
        if self.kind == RATE:
            return f"{value * 100:.{0 if step >= 0.01 or step <= 0 else 1}f}%"
        if self.kind == COUNT:
            return count_text(value)
        return number_text(value, step)


def time_labels(labels: list[str], most: int = 4) -> list[tuple[int, str]]:
    """(index, label) for at most `most` evenly spaced points of the x axis, first and last always among them."""
    n = len(labels)
    if n == 0:
        return []
    if n <= most:
        return list(enumerate(labels))
    picks = sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})
    return [(i, labels[i]) for i in picks]
