"""The human-readable evidence for a drift alert: an Evidently data-drift report of the window, saved as HTML.

It costs seconds per report, so the service builds it in a worker thread after the alert is published.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


def save_report(reference: pd.DataFrame, rows: list[dict], columns: list[str], path: Path) -> Path | None:
    """Write Evidently's DataDriftPreset for `rows` against `reference` to `path`; None if there is nothing to show."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    current = pd.DataFrame(rows).reindex(columns=columns)
    if current.empty:
        return None
    cols = [c for c in columns if c in reference.columns]
    snapshot = Report([DataDriftPreset(columns=cols)]).run(current_data=current[cols], reference_data=reference[cols])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    snapshot.save_html(str(tmp))
    tmp.replace(path)  # readers never see a half-written page
    return path
