"""Report windows: count- or time-based, closed by the event that fills them or arrives after they expire."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.monitoring import Window


@dataclass
class WindowState:
    """What the current window has seen so far; detections are kept per kind and column."""

    start: datetime | None = None
    end: datetime | None = None
    events: int = 0
    labelled: int = 0
    errors: int = 0
    detections: dict[str, dict[str, dict]] = field(default_factory=dict)  # kind -> column -> {row, test, value}
    positives: int = 0  # predictions of the positive class (two classes): the window's predicted positive rate
    confusion: dict[str, int] = field(default_factory=dict)  # tp, fp, fn, tn of its labelled rows (two classes)

    def add_events(self, first: datetime, last: datetime, count: int) -> None:
        self.start = self.start or first
        self.end = last
        self.events += count

    def add_labels(self, labelled: int, errors: int, when: datetime) -> None:
        self.start = self.start or when
        self.end = max(self.end or when, when)
        self.labelled += labelled
        self.errors += errors

    def add_outcome(self, predicted_positive: bool, truly_positive: bool) -> None:
        cell = ("t" if predicted_positive == truly_positive else "f") + ("p" if predicted_positive else "n")
        self.confusion[cell] = self.confusion.get(cell, 0) + 1

    def add_detection(self, kind: str, column: str, info: dict) -> None:
        per_kind = self.detections.setdefault(kind, {})
        seen = per_kind.get(column)
        if seen is None:
            per_kind[column] = dict(info)
        elif info["value"] > seen["value"]:  # keep the first row, name the strongest test
            seen.update(test=info["test"], value=info["value"])

    def as_window(self) -> Window:
        return Window(start=self.start, end=self.end or self.start, events=self.events, labelled=self.labelled)

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat() if self.start else None, "end": self.end.isoformat() if self.end else None,
                "events": self.events, "labelled": self.labelled, "errors": self.errors, "detections": self.detections,
                "positives": self.positives, "confusion": self.confusion}

    @classmethod
    def from_dict(cls, d: dict) -> WindowState:
        parse = lambda v: datetime.fromisoformat(v) if v else None  # noqa: E731
        return cls(parse(d["start"]), parse(d["end"]), d["events"], d["labelled"], d["errors"], d["detections"],
                   d.get("positives", 0), d.get("confusion", {}))


# A share of 100 predictions is known to within ~5 points (one standard error); the few rows of a tail closed when
# traffic stopped (monitor_idle_close_s) tell nothing: `simulate` after one curl left a 1-row window that said
# "predicted 1 fell from 63% to 0%" and raised an estimated F1 drop "on 1 prediction".
TELLING_EVENTS = 100


def too_small(state: WindowState, policy: WindowPolicy) -> bool:
    """Whether a window has too few predictions to measure a share or an estimate on (fewer than 100, or than half
    the window's size where windows are smaller)."""
    return state.events < min(TELLING_EVENTS, policy.events // 2)


@dataclass(frozen=True)
class WindowPolicy:
    """A window closes after `events` predictions, or when an event arrives `seconds` after it opened."""

    events: int = 1000
    seconds: float = 300.0

    def room(self, state: WindowState) -> int:
        """Predictions the current window can still take."""
        return max(self.events - state.events, 0)

    @property
    def span(self) -> timedelta:
        return timedelta(seconds=self.seconds)
