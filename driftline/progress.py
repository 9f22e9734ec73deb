"""Progress for commands that take more than a few seconds: rich on stderr, so stdout stays clean for --json."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Bar:
    """One task of a rich progress display: a bar when the total is known, a spinner otherwise."""

    def __init__(self, progress, task):
        self._progress, self._task = progress, task

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)

    def update(self, **fields) -> None:
        self._progress.update(self._task, **fields)


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Bar]:
    """A live display on stderr while the block runs; it disappears when the block ends (the result line stays).

    On a terminal it animates; where stderr is not one (a pipe, CI) rich prints nothing, so logs stay clean.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    display = Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    with display:
        yield Bar(display, display.add_task(description, total=total))


class CountingBus:
    """A bus that reports how many prediction requests each pipelined publish stored (labels are not counted)."""

    def __init__(self, bus, on_published: Callable[[int], None]):
        self._bus, self._on_published = bus, on_published

    async def publish_many(self, events, **kwargs):
        from schemas import PredictionRequested

        events = list(events)
        acks = await self._bus.publish_many(events, **kwargs)
        self._on_published(sum(isinstance(e, PredictionRequested) for e in events))
        return acks

    def __getattr__(self, name):
        return getattr(self._bus, name)
