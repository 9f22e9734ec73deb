"""The end of `driftline up`'s banner: three commands a new user can paste, made from the champion itself (a real
row of its reference data for /predict, a drift on the columns that move its predictions the most, the page).

Run as `python -m driftline.try_it` by `up` once the first model is there: MLflow and pandas load in that short-lived
process, not in the supervisor, which stays small for the whole run."""

from __future__ import annotations

import json
import math
import shlex
import sys
from dataclasses import dataclass

SIGMAS = 2.0  # each drifted column moves by this many of its standard deviations, as `simulate --shift` does
# The shipped policy (agent/policy.yaml) makes a change of 15 points in the share predicted positive a medium
# incident on its own, which asks a person to approve a retrain; aim past it. A single column rarely gets there on
# a regularised model of 30 correlated columns (at most 7 points for the built-in data's logistic regression, whose
# most correlated column moved it by 6: a low incident, nothing to approve), so columns are added, up to MOST.
AIM, MOST = 0.20, 4


@dataclass(frozen=True)
class Example:
    version: str
    features: dict  # one reference row: column name -> value
    shifts: dict  # numeric column -> signed standard deviations: the drift that moves the predictions the most


def champion_example(settings) -> Example | None:
    """A reference row of the champion and the drift to simulate; None while the registry has no champion."""
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
    rows = frame[columns].head(2000)
    numeric = [c for c in columns if np.issubdtype(rows[c].dtype, np.number) and rows[c].std() > 0]
    row = {c: _plain(v) for c, v in rows.iloc[0].items()}
    features = {k: v for k, v in row.items() if v is not None}
    return Example(str(mv.version), features, strongest_drift(loaded.model.predict_proba, rows, numeric))


def strongest_drift(predict_proba, rows, numeric: list[str]) -> dict[str, float]:
    """Columns and directions that move the share of the last class the most when shifted together: each column's
    own effect first, then added greedily in that order (those pushing the same way) until AIM is reached."""
    import numpy as np

    def share(frame) -> float:
        proba = np.asarray(predict_proba(frame))
        return float((proba.argmax(axis=1) == proba.shape[1] - 1).mean())

    def shifted(shifts: dict[str, float]):
        frame = rows.copy()
        for column, sigmas in shifts.items():
            frame[column] = frame[column].astype(float) + sigmas * float(rows[column].std())
        return frame

    if not numeric:
        return {}
    base = share(rows)
    effects = {(c, sign): share(shifted({c: sign * SIGMAS})) - base for c in numeric for sign in (1.0, -1.0)}
    (first, sign), effect = max(effects.items(), key=lambda kv: abs(kv[1]))
    way = 1.0 if effect >= 0 else -1.0
    chosen = {first: sign * SIGMAS}
    for (column, s), e in sorted(effects.items(), key=lambda kv: -kv[1] * way):
        if abs(share(shifted(chosen)) - base) >= AIM or len(chosen) >= MOST:
            break
        if column not in chosen and e * way > 0:
            chosen[column] = s * SIGMAS
    return chosen


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
    shift = " ".join(f"--shift {shlex.quote(f'{column}={sigmas:g}')}" for column, sigmas in example.shifts.items())
    named = " and ".join(f"`{c}` ({'+' if v > 0 else ''}{v:g} SD)" for c, v in example.shifts.items())
    sign_in = (f"sign in as admin with the one-time password {one_time}" if one_time else
               "sign in (a forgotten password: `driftline users reset NAME`)")
    return [
        f"1. A prediction from {model} v{example.version}, on a real row of its reference data:",
        f"   curl -s {gateway}/predict -H 'content-type: application/json'{key} -d {shlex.quote(body)}",
        f"2. Traffic with a drift on {named} (what moves v{example.version}'s predictions the most) from row 1,500, "
        "true labels 5 s later:",
        f"   driftline simulate --rows 4000 --rate 200 --drift-at 1500 {shift}{data_dir_flag}",
        f"3. The loop's answer on the page (alert, diagnosis, an approval to decide): {page}",
        f"   {sign_in}",
    ]


def main() -> int:
    from infra.settings import Settings

    example = champion_example(Settings())
    if example is None:
        return 1
    print(json.dumps({"version": example.version, "features": example.features, "shifts": example.shifts}))
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
