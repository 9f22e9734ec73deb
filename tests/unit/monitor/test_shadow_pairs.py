"""Labelled pairs -> the shadow tests -> decisions (pure), the decision's words in the audit story and the agent's
proposal, and the wire form of prediction.shadowed."""

from __future__ import annotations

import numpy as np

from agent.shadow_promotion import propose_promotion
from consumers.audit.story import tell
from consumers.monitor.shadow_pairs import Shadow, advance, pair_up
from inference.model_holder import Prediction
from inference.shadow import shadow_event
from infra.models import LoadedModel, is_challenger
from schemas import LabelReceived, PredictionRequested, PredictionShadowed, parse_event

MODEL = "driftline-classifier"


def labels(truth: list[int]) -> list[LabelReceived]:
    return [LabelReceived(source="t", subject=MODEL, data=dict(request_id=f"r{i}", model=MODEL, label=y))
            for i, y in enumerate(truth)]


def world(n: int, champion_acc: float, challenger_acc: float, seed: int = 0):
    """Labels, the champion's answers (class, version 1) and challenger v2's, each right with its accuracy."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n).tolist()
    champ = [y if rng.random() < champion_acc else 1 - y for y in truth]
    chall = [y if rng.random() < challenger_acc else 1 - y for y in truth]
    champion = {f"r{i}": (str(c), "1") for i, c in enumerate(champ)}
    shadows = {f"r{i}": [Shadow("2", "1", "challenger", str(c))] for i, c in enumerate(chall)}
    return labels(truth), champion, shadows


def test_pairs_are_counted_per_challenger_and_only_against_the_champion_that_served():
    lbls = labels([1, 0, 1])
    champion = {"r0": ("1", "1"), "r1": ("1", "1"), "r2": ("0", "3")}  # r2 was served by another version
    shadows = {"r0": [Shadow("2", "1", "challenger", "0"), Shadow("4", "1", "challenger-b", "1")],
               "r1": [Shadow("2", "1", "challenger", "0")], "r2": [Shadow("2", "1", "challenger", "1")]}
    found = pair_up(lbls, champion, shadows)
    assert set(found) == {("2", "1"), ("4", "1")}
    assert (found["2", "1"].champion, found["2", "1"].challenger) == ([True, False], [False, True])
    assert (found["4", "1"].champion, found["4", "1"].challenger, found["4", "1"].alias) == ([True], [True],
                                                                                             "challenger-b")


def test_a_better_challenger_is_promoted_once_and_the_decision_names_its_figures():
    lbls, champion, shadows = world(3000, 0.85, 0.95, seed=1)
    tests = {}
    decisions, points = [], []
    for start in range(0, 3000, 250):  # batch by batch, as the monitor reads them
        part = lbls[start:start + 250]
        d, p = advance(tests, pair_up(part, champion, shadows), MODEL, 0.05, 5000)
        decisions += d
        points += p
    [decided] = decisions
    d = decided.data
    assert (d.decision, d.challenger_version, d.champion_version) == ("promote", "2", "1")
    assert d.statistic >= d.threshold and d.difference_lower > 0 and d.pairs < 3000
    assert decided.causation_id == lbls[d.pairs - 1].id and decided.correlation_id == decided.id
    assert points[-1][1]["pairs"] == d.pairs and tests["2", "1"].decision_event_id == decided.id
    assert f"on {d.pairs:,} labelled pairs" in d.reason and "proposed through the policy" in d.reason
    line = tell(decided.model_dump(mode="json"))
    assert line.outcome == "challenger better: promotion proposed" and f"after {d.pairs} labelled pairs" in line.what
    # The agent's proposal: deploy exactly that version, through the gate.
    diagnosis = propose_promotion(decided)
    assert diagnosis.data.issue == "challenger_better" and diagnosis.correlation_id == decided.id
    [action] = diagnosis.data.proposed_actions
    assert (action.kind, action.params) == ("deploy_model", {"version": "2"})


def test_no_difference_runs_out_of_budget_inconclusive_and_proposes_nothing():
    lbls, champion, shadows = world(2000, 0.9, 0.9, seed=2)
    tests = {}
    decisions, _ = advance(tests, pair_up(lbls, champion, shadows), MODEL, 0.05, 600)
    [decided] = decisions
    assert (decided.data.decision, decided.data.pairs) == ("inconclusive", 600)
    assert decided.causation_id == lbls[599].id
    assert propose_promotion(decided) is None
    assert advance(tests, pair_up(lbls, champion, shadows), MODEL, 0.05, 600) == ([], [])  # decided: no more
    assert tell(decided.model_dump(mode="json")).outcome == "inconclusive: champion stays"


def test_a_worse_challenger_is_kept_out():
    lbls, champion, shadows = world(3000, 0.95, 0.85, seed=3)
    [decided], _ = advance({}, pair_up(lbls, champion, shadows), MODEL, 0.05, 5000)
    assert decided.data.decision == "keep" and decided.data.difference_upper < 0
    assert propose_promotion(decided) is None


def test_shadow_events_on_the_wire_are_valid_and_a_bus_request_gives_a_repeatable_id():
    model = LoadedModel(name=MODEL, version="2", run_id="x", model=None, features=["a"], feature_types={"a": "double"},
                        classes=[0, 1])
    request = PredictionRequested(source="t", subject=MODEL, data=dict(request_id="q1", model=MODEL,
                                                                       features={"a": 1.0}))
    row = ("q1", {"a": 1.0}, request.correlation_id, request.id)
    prediction = Prediction(1, {"0": 0.2, "1": 0.8})
    first, again = (shadow_event(row, source="inference/worker", alias="challenger", model=model, champion_version="1",
                                 prediction=prediction, channel="bus") for _ in range(2))
    event = parse_event(first.to_bytes(), (PredictionShadowed,))
    assert first.id == again.id == event.id and event.causation_id == request.id
    assert (event.data.challenger_version, event.data.champion_version, event.data.predicted_class) == ("2", "1", 1)
    http = shadow_event(("h1", {"a": 1.0}, None, None), source="inference/gateway", alias="challenger-b", model=model,
                        champion_version="1", prediction=prediction, channel="http")
    assert parse_event(http.to_bytes()).correlation_id == http.id


def test_which_aliases_are_challengers():
    assert is_challenger("challenger") and is_challenger("challenger-b")
    assert not is_challenger("champion") and not is_challenger("challengers")
