"""The end of `driftline up`'s banner: three commands a new user can paste, made from the champion itself (a real
row of its reference data for /predict, a drift on the column its predictions follow most closely, the page).

Run as `python -m driftline.try_it` by `up` once the first model is there: MLflow and pandas load in that short-lived
process, not in the supervisor, which stays small for the whole run."""

from __future__ import annotations

import json
import math
import shlex
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    version: str
    features: dict  # one reference row: column name -> value
    column: str  # the numeric column the champion's predictions follow most closely


def champion_example(settings) -> Example | None:
    """A reference row of the champion and the column to drift; None while the registry has no champion."""
    import numpy as np

    from infra.models import champion_version, configure_mlflow, load_version
    from producers.traffic_source import load_traffic_source

    configure_mlflow(settings)
    mv = champion_version(settings)
    if mv is None:
        return None
    frame, target, _ = load_traffic_source(settings)
    loaded = load_version(settings, str(mv.version))
    columns = [c for c in (loaded.features or frame.columns) if c in frame.columns and c != target]
    rows = frame[columns].head(500)
    proba = np.asarray(loaded.model.predict_proba(rows))[:, -1]
    numeric = [c for c in columns if np.issubdtype(rows[c].dtype, np.number) and rows[c].std() > 0]

    def follows(column: str) -> float:
        r = float(np.corrcoef(rows[column].astype(float), proba)[0, 1]) if np.std(proba) > 0 else 0.0
        return abs(r) if math.isfinite(r) else 0.0

    column = max(numeric, key=follows, default=columns[0])
    row = {c: _plain(v) for c, v in rows.iloc[0].items()}
    return Example(str(mv.version), {k: v for k, v in row.items() if v is not None}, column)


def _plain(value):
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return round(value, 6) if isinstance(value, float) else value


def commands(example: Example, *, model: str, gateway: str, page: str, data_dir_flag: str, api_keys: bool,
             one_time: str | None) -> list[str]:
    """The three commands, each with one line saying what it shows."""
    body = json.dumps({"features": example.features}, separators=(",", ":"))
    key = " -H 'X-API-Key: <one of DRIFTLINE_API_KEYS>'" if api_keys else ""
    shift = shlex.quote(f"{example.column}=2")
    sign_in = (f"sign in as admin with the one-time password {one_time}" if one_time else
               "sign in (a forgotten password: `driftline users reset NAME`)")
    return [
        f"1. A prediction from {model} v{example.version}, on a real row of its reference data:",
        f"   curl -s {gateway}/predict -H 'content-type: application/json'{key} -d {shlex.quote(body)}",
        f"2. Traffic with a drift on `{example.column}` (the column v{example.version}'s predictions follow most "
        "closely) from row 1,500, true labels 5 s later:",
        f"   driftline simulate --rows 4000 --rate 200 --drift-at 1500 --shift {shift}{data_dir_flag}",
        f"3. The loop's answer on the page (alert, diagnosis, an approval to decide): {page}",
        f"   {sign_in}",
    ]


def main() -> int:
    from infra.settings import Settings

    example = champion_example(Settings())
    if example is None:
        return 1
    print(json.dumps({"version": example.version, "features": example.features, "column": example.column}))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def announce(settings, env: dict[str, str], data_dir, one_time: str | None, echo) -> None:
    """Read the champion's example in a short-lived process (MLflow and pandas stay out of `up`'s supervisor, which
    runs for days) and print the three commands."""
    import subprocess
    from pathlib import Path

    from driftline.services import SERVICES

    try:
        found = subprocess.run([sys.executable, "-m", "driftline.try_it"], env=env, capture_output=True, text=True,
                               timeout=300)
        example = Example(**json.loads(found.stdout)) if found.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError, TypeError):
        example = None
    if example is None:
        echo("(The commands to try could not be made: the champion's reference data did not load.)")
        return
    flag = "" if Path(data_dir) == Path(".driftline").resolve() else f" --data-dir {data_dir}"
    lines = commands(example, model=settings.model_name, gateway=SERVICES["gateway"].url(settings),
                     page=SERVICES["ui"].url(settings), data_dir_flag=flag, api_keys=bool(settings.api_keys),
                     one_time=one_time)
    echo("\n".join(["", "Try it:", *lines, ""]))
