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


@dataclass(frozen=True)
class PromotionRule:
    """Which hold-out decides (the agent's policy passes it for a retrain; a manual training uses the reference).

    recent: the newest labelled production rows, split by time and never trained on; the reference hold-out then
    guards against forgetting (the challenger may lose at most `max_reference_drop` of the metric on it).
    """

    decide_on: str = "reference"  # "reference" | "recent"
    recent_share: float = 0.3
    min_recent_rows: int = 100
    margin: float = 0.0
    max_reference_drop: float = 1.0
    # Deciding on recent rows but too few are labelled (labels late): "reference" judges on the reference hold-out;
    # "shadow" does not promote on it (after a drift it speaks for yesterday's traffic) and leaves the version
    # challenger, to prove itself on live traffic in the shadow test.
    too_few_recent: str = "reference"  # "reference" | "shadow"
    # The held-out share is taken of only the last this many production rows (a retrain after a drift: the rows
    # labelled since it began), so that rows from before the change neither decide nor fill the hold-out.
    recent_of_last: int | None = None

    @classmethod
    def from_dict(cls, doc: dict | None, margin: float) -> PromotionRule:
        return cls(**doc) if doc else cls(margin=margin)

    def recent_rows(self, available: int) -> int:
        """How many of the newest production rows to hold out: none unless the rule decides on them and they suffice."""
        base = available if self.recent_of_last is None else min(available, self.recent_of_last)
        wanted = math.ceil(base * self.recent_share)
        return wanted if self.decide_on == "recent" and wanted >= self.min_recent_rows else 0

    def words(self) -> str:
        if self.decide_on == "recent":
            rows = ("the labelled production rows" if self.recent_of_last is None else
                    f"the {self.recent_of_last} production rows labelled since the incident began")
            return (f"decided on the newest {self.recent_share:.0%} of {rows} (at least "
                    f"{self.min_recent_rows}, else {self._fallback()}), margin {self.margin:g}; the reference "
                    f"hold-out guards: at most {self.max_reference_drop:g} lost on it")
        return f"decided on the reference hold-out, margin {self.margin:g}"

    def _fallback(self) -> str:
        return "in the shadow on live traffic" if self.too_few_recent == "shadow" else "on the reference hold-out"


def decide_promotion(reference: tuple[dict | None, dict | None], recent: tuple[dict | None, dict | None] | None,
                     recent_rows: int, rule: PromotionRule, *, metric: str, tiebreak: str, challenger_version: str,
                     champion_version: str | None) -> Decision:
    """Promote by the rule: on recent traffic when there is enough of it (the reference guarding against
    forgetting), else on the reference hold-out."""
    common = dict(metric=metric, tiebreak=tiebreak, challenger_version=challenger_version,
                  champion_version=champion_version)
    if recent is None or champion_version is None:
        decision = decide(*reference, margin=rule.margin, **common)
        if rule.decide_on == "recent" and champion_version is not None and rule.too_few_recent == "shadow":
            return Decision(False, f"too few labelled production rows to judge version "
                                   f"{challenger_version} on today's traffic: it stays challenger and is judged in "
                                   f"the shadow on live traffic (on the reference hold-out: {decision.reason})")
        if rule.decide_on == "recent" and champion_version is not None:
            return Decision(decision.promote, f"{decision.reason} (too few labelled production rows to judge on "
                                              f"today's traffic: the reference hold-out decided)")
        return decision
    judged = decide(*recent, margin=rule.margin, **common)
    reason = judged.reason.replace("on the same hold-out data", f"on the {recent_rows} most recent labelled "
                                                                  "production rows")
    if not judged.promote:
        return Decision(False, reason)
    challenger_ref, champion_ref = reference
    if challenger_ref is not None and champion_ref is not None:
        lost = _value(champion_ref, metric) - _value(challenger_ref, metric)
        if lost > rule.max_reference_drop:
            return Decision(False, f"{reason}, but it loses {lost:.4f} {metric} on the reference hold-out (more than "
                                   f"{rule.max_reference_drop:g}): it would forget what the champion knows")
    return Decision(True, reason)
