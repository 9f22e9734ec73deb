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


async def save_report_apart(reference: pd.DataFrame, rows: list[dict], columns: list[str], path: Path,
                            timeout: float = 600.0) -> Path | None:
    """save_report in a short-lived process: Evidently took the monitor's resident memory up by ~270 MB at the first
    alert and kept it there (measured with bench/soak.py); a process that ends gives it back. The frames travel as
    pickles in a private temporary folder (written and read by this module only)."""
    import asyncio
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="driftline-evidently-") as tmp:
        ref, cur = Path(tmp) / "reference.pkl", Path(tmp) / "current.pkl"
        reference.to_pickle(ref)
        pd.DataFrame(rows).to_pickle(cur)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", __name__, str(ref), str(cur), str(path),
                                                    *columns, stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"Evidently report {path.name} not made within {timeout:.0f}s") from None
    if proc.returncode == 3:
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"Evidently report {path.name} failed: "
                           + " | ".join(err.decode(errors="replace").strip().splitlines()[-3:]))
    return path


def main(argv: list[str]) -> int:
    """python -m consumers.monitor.evidently_report REFERENCE.pkl CURRENT.pkl OUT.html COLUMN...; 3: nothing to show."""
    reference, current = pd.read_pickle(argv[0]), pd.read_pickle(argv[1])
    made = save_report(reference, current.to_dict("records"), argv[3:], Path(argv[2]))
    return 0 if made else 3


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
