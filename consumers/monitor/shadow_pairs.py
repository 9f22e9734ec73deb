"""Shadow challengers judged on labelled pairs (pure): a label joins the champion's answer and each challenger's
answer to the same request; each (challenger, champion) pair has its own paired sequential test
(consumers/monitor/sequential.ShadowTest), and its decision is an event.

A test belongs to a challenger version *and* the champion it was paired with: after the champion changes, pairs
against the new one start a new test (evidence against the old champion says nothing about the new one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from consumers.monitor.sequential import KEEP, PROMOTE, ShadowTest
from schemas import LabelReceived, ModelShadowDecided, derived_id
from schemas.model import ShadowDecision

SOURCE = "consumers/monitor"
Key = tuple[str, str]  # (challenger version, champion version)


@dataclass(frozen=True)
class Shadow:
    """A challenger's stored answer to one request."""

    challenger_version: str
    champion_version: str
    alias: str
    predicted_class: str


@dataclass
class Running:
    """One test and what it knows besides its counts."""

    alias: str
    test: ShadowTest
    decision_event_id: str | None = None


@dataclass
class Pairs:
    alias: str
    champion: list[bool] = field(default_factory=list)
    challenger: list[bool] = field(default_factory=list)
    labels: list[LabelReceived] = field(default_factory=list)


def pair_up(labels: Sequence[LabelReceived], champion: dict[str, tuple[str, str | None]],
            shadows: dict[str, list[Shadow]]) -> dict[Key, Pairs]:
    """Labels in stream order -> per test, (was the champion right, was the challenger right) and the label that
    brought each pair. `champion`: request id -> (predicted class, serving version)."""
    out: dict[Key, Pairs] = {}
    for label in labels:
        rid = label.data.request_id
        if rid not in champion:
            continue
        served_class, served_version = champion[rid]
        truth = str(label.data.label)
        for shadow in shadows.get(rid, ()):
            if served_version is not None and served_version != shadow.champion_version:
                continue
            pairs = out.setdefault((shadow.challenger_version, shadow.champion_version), Pairs(shadow.alias))
            pairs.champion.append(str(served_class) == truth)
            pairs.challenger.append(shadow.predicted_class == truth)
            pairs.labels.append(label)
    return out


def advance(tests: dict[Key, Running], found: dict[Key, Pairs], model: str, alpha: float,
            budget: int) -> tuple[list[ModelShadowDecided], list[tuple[Key, dict]]]:
    """Feed the pairs to their tests (new tests start with `alpha` and `budget`); -> decisions, (key, status) points."""
    decisions, points = [], []
    for key, pairs in found.items():
        running = tests.get(key)
        if running is None:
            running = tests[key] = Running(pairs.alias, ShadowTest(alpha=alpha, budget=budget))
        if running.test.decision is not None:
            continue
        taken = running.test.update(pairs.champion, pairs.challenger)
        if not taken:
            continue
        status = running.test.status()
        points.append((key, status))
        if running.test.decision is not None:
            event = decision_event(pairs.labels[taken - 1], model, key, running.alias, status)
            running.decision_event_id = event.id
            decisions.append(event)
    return decisions, points


def decision_event(label: LabelReceived, model: str, key: Key, alias: str, s: dict) -> ModelShadowDecided:
    """The decision, caused by the label that decided it; it opens its own chain (the promotion's incident)."""
    challenger, champion = key
    event_id = derived_id(label.id, ModelShadowDecided.type_name(), f"{challenger}:{champion}")
    data = ShadowDecision(
        model=model, challenger_version=challenger, champion_version=champion, alias=alias, decision=s["decision"],
        metric=s["metric"], pairs=s["pairs"], discordant=s["discordant"], challenger_wins=s["challenger_wins"],
        statistic=s["statistic"], threshold=s["threshold"], alpha=s["alpha"], budget=s["budget"],
        difference=s["difference"], difference_lower=s["difference_lower"], difference_upper=s["difference_upper"],
        band_level=s["band_level"], reason=reason(challenger, champion, alias, s))
    return label.caused(ModelShadowDecided, source=SOURCE, subject=model, data=data, key=f"{challenger}:{champion}",
                        correlation_id=event_id)


def reason(challenger: str, champion: str, alias: str, s: dict) -> str:
    """The decision in words, with the figures it rests on."""
    figures = (f"accuracy difference {s['difference']:+.4f} on {s['pairs']:,} labelled pairs ({s['discordant']:,} "
               f"where only one was right: {s['challenger_wins']:,} for the challenger, {s['champion_wins']:,} for the "
               f"champion), {s['band_level']:.0%} band {s['difference_lower']:+.4f} to {s['difference_upper']:+.4f}; "
               f"statistic {s['statistic']:.2f} against the threshold {s['threshold']:.2f} (alpha {s['alpha']:g})")
    if s["decision"] == PROMOTE:
        return (f"challenger version {challenger} ({alias}) is better than champion version {champion}: {figures}. "
                "Its promotion is proposed through the policy.")
    if s["decision"] == KEEP:
        return (f"challenger version {challenger} ({alias}) is worse than champion version {champion}: {figures}. "
                "The champion stays.")
    return (f"no decision between challenger version {challenger} ({alias}) and champion version {champion} within "
            f"the budget of {s['budget']:,} labelled pairs: {figures}. The champion stays.")
