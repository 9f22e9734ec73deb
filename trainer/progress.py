"""Progress of a training: silent by default, a rich display on stderr for the command line."""

from __future__ import annotations

import sys


class Progress:
    """Hooks a training calls as it goes; this base does nothing (the agent's executor uses it)."""

    def stage(self, text: str) -> None: ...

    def fitting(self, families: list[str]) -> None: ...

    def fitted(self, family: str, metrics: dict[str, float]) -> None: ...

    def close(self) -> None: ...


class RichProgress(Progress):
    """A live progress display on stderr: one overall bar and a line per candidate."""

    def __init__(self, metric: str = "f1"):
        from rich.console import Console
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.metric = metric
        self.bar = Bar(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                       console=Console(file=sys.stderr), transient=False)
        self.bar.start()
        self.overall = self.bar.add_task("training", total=None)
        self.tasks: dict[str, int] = {}

    def stage(self, text: str) -> None:
        self.bar.update(self.overall, description=text)

    def fitting(self, families: list[str]) -> None:
        self.bar.update(self.overall, total=len(families), completed=0, description="fitting candidates")
        for family in families:
            self.tasks[family] = self.bar.add_task(f"  {family}", total=1)

    def fitted(self, family: str, metrics: dict[str, float]) -> None:
        shown = f"{self.metric}={metrics.get(self.metric, float('nan')):.4f} roc_auc={metrics.get('roc_auc', 0):.4f}"
        self.bar.update(self.tasks[family], completed=1, description=f"  {family}: {shown}")
        self.bar.advance(self.overall)

    def close(self) -> None:
        self.bar.stop()
