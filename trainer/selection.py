"""Pure decisions: which candidate is best, and whether a challenger beats the champion."""

from __future__ import annotations

import math
from dataclasses import dataclass

from schemas.model import Candidate

TIE = 1e-9


def _value(metrics: dict[str, float], name: str) -> float:
    value = metrics.get(name, float("nan"))
    return value if math.isfinite(value) else float("-inf")


def best(candidates: list[Candidate], metric: str, tiebreak: str) -> Candidate:
    """Highest `metric`, then highest `tiebreak`, then the first listed (families are listed in a fixed order)."""
    if not candidates:
        raise ValueError("no candidates to choose from")
    return max(candidates, key=lambda c: (round(_value(c.metrics, metric), 9), _value(c.metrics, tiebreak)))


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(
    challenger: dict[str, float] | None,
    champion: dict[str, float] | None,
    *,
    metric: str,
    tiebreak: str,
    margin: float,
    challenger_version: str,
    champion_version: str | None,
) -> Decision:
    """Promote only a challenger that beats the champion on the same hold-out data by at least `margin`.

    On a tie of `metric` the `tiebreak` metric decides, with the same margin. No champion: promote.
    """
    if champion_version is None:
        return Decision(True, f"no champion yet: version {challenger_version} becomes champion")
    if champion is None or challenger is None:
        return Decision(False, f"champion version {champion_version} could not be scored on the challenger's "
                               f"hold-out data, so version {challenger_version} was not compared and is not promoted")
    new, old = _value(challenger, metric), _value(champion, metric)
    delta = new - old
    if abs(delta) <= TIE:
        new_t, old_t = _value(challenger, tiebreak), _value(champion, tiebreak)
        delta_t = new_t - old_t
        if delta_t > TIE and delta_t >= margin:
            return Decision(True, f"{metric} tied at {new:.4f}; {tiebreak} {new_t:.4f} beats {old_t:.4f} "
                                  f"by {delta_t:.4f} >= margin {margin:g}")
        return Decision(False, f"version {challenger_version} did not beat champion version {champion_version}: "
                               f"{metric} tied at {new:.4f} and {tiebreak} {new_t:.4f} vs {old_t:.4f} "
                               f"(needs +{margin:g})")
    if delta > TIE and delta >= margin:
        return Decision(True, f"{metric} {new:.4f} beats champion version {champion_version}'s {old:.4f} "
                              f"by {delta:.4f} >= margin {margin:g} on the same hold-out data")
    return Decision(False, f"version {challenger_version} did not beat champion version {champion_version}: "
                           f"{metric} {new:.4f} vs {old:.4f} on the same hold-out data (needs +{margin:g})")
