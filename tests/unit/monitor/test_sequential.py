"""The shadow test on seeded labelled pairs: no promotion without a difference beyond the configured rate, a clear
difference promoted, a worse challenger kept, the budget ending it, and its state surviving JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from consumers.monitor.sequential import INCONCLUSIVE, KEEP, PROMOTE, ShadowTest


def pairs(seed: int, n: int, only_challenger: float, only_champion: float) -> tuple[np.ndarray, np.ndarray]:
    """(champion correct, challenger correct) for n labelled rows; both right otherwise 88% of the time."""
    kind = np.random.default_rng(seed).choice(4, size=n, p=[only_challenger, only_champion, 0.88,
                                                           0.12 - only_challenger - only_champion])
    return (kind == 1) | (kind == 2), (kind == 0) | (kind == 2)


def test_no_difference_promotes_at_most_at_the_configured_rate():
    decisions = []
    for seed in range(600):
        test = ShadowTest(alpha=0.05, budget=3000)
        test.update(*pairs(seed, 3000, 0.03, 0.03))
        decisions.append(test.decision)
    promoted = decisions.count(PROMOTE) / len(decisions)
    assert promoted <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 600)  # the bound, with two standard errors of slack
    assert decisions.count(INCONCLUSIVE) / len(decisions) > 0.85


def test_a_clear_improvement_is_promoted_early_and_the_band_agrees():
    test = ShadowTest(alpha=0.05, budget=5000)
    taken = test.update(*pairs(1, 5000, 0.06, 0.01))
    status = test.status()
    assert test.decision == PROMOTE and taken == test.pairs == test.decided_at < 1000
    assert status["statistic"] >= status["threshold"] == pytest.approx(np.log(10))
    assert 0 < status["difference_lower"] <= status["difference"] <= status["difference_upper"]
    assert status["difference"] == pytest.approx((status["challenger_wins"] - status["champion_wins"]) / test.pairs)


def test_a_worse_challenger_is_kept_out():
    test = ShadowTest(alpha=0.05, budget=5000)
    test.update(*pairs(2, 5000, 0.01, 0.06))
    assert test.decision == KEEP and test.status()["difference_upper"] < 0


def test_the_budget_ends_the_test_inconclusive_and_nothing_more_is_taken():
    test = ShadowTest(alpha=0.05, budget=400)
    champion, challenger = pairs(3, 1000, 0.03, 0.03)
    assert test.update(champion[:250], challenger[:250]) == 250 and test.decision is None
    assert test.update(champion[250:], challenger[250:]) == 150
    assert (test.decision, test.decided_at, test.pairs) == (INCONCLUSIVE, 400, 400)
    assert test.update(champion, challenger) == 0


def test_state_round_trips_and_resumes_to_the_same_decision():
    champion, challenger = pairs(4, 4000, 0.05, 0.015)
    whole = ShadowTest(budget=4000)
    whole.update(champion, challenger)
    first = ShadowTest(budget=4000)
    first.update(champion[:300], challenger[:300])
    saved = json.loads(json.dumps(first.to_dict()))
    second = ShadowTest.from_dict(saved)
    assert second == first and second.status() == first.status()
    for start in range(300, 4000, 700):  # labels arrive in batches; the decision falls on the same pair
        second.update(champion[start:start + 700], challenger[start:start + 700])
    assert (second.decision, second.decided_at) == (whole.decision, whole.decided_at) == (PROMOTE, whole.pairs)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        ShadowTest(alpha=0.7)
    with pytest.raises(ValueError, match="same length"):
        ShadowTest().update([True, False], [True])
    empty = ShadowTest().status()
    assert (empty["pairs"], empty["difference"], empty["difference_lower"], empty["decision"]) == (0, 0.0, 0.0, None)
