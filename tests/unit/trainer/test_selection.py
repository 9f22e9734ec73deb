"""Choosing the best candidate and deciding promotion: pure rules, every branch."""

from __future__ import annotations

from schemas.model import Candidate
from trainer.selection import PromotionRule, best, decide


def cand(family, f1, auc):
    return Candidate(family=family, run_id=f"r-{family}", metrics={"f1": f1, "roc_auc": auc})


def test_best_is_highest_f1_then_auc_then_first_listed():
    cands = [cand("a", 0.90, 0.99), cand("b", 0.95, 0.90), cand("c", 0.95, 0.97), cand("d", 0.95, 0.97)]
    assert best(cands, "f1", "roc_auc").family == "c"
    assert best(cands, "roc_auc", "f1").family == "a"
    assert best([cand("x", float("nan"), 0.5), cand("y", 0.1, 0.5)], "f1", "roc_auc").family == "y"


def rule(challenger, champion, margin=0.01, champion_version="1"):
    return decide(challenger, champion, metric="f1", tiebreak="roc_auc", margin=margin,
                  challenger_version="2", champion_version=champion_version)


def test_no_champion_promotes():
    decision = rule({"f1": 0.5, "roc_auc": 0.5}, None, champion_version=None)
    assert decision.promote and "no champion" in decision.reason


def test_identical_metrics_keep_the_champion_and_say_so():
    same = {"f1": 0.95, "roc_auc": 0.99}
    decision = rule(same, dict(same), margin=0.0)
    assert not decision.promote
    assert "did not beat champion version 1" in decision.reason and "tied" in decision.reason


def test_better_by_the_margin_promotes_and_less_than_the_margin_does_not():
    assert rule({"f1": 0.93, "roc_auc": 0.9}, {"f1": 0.91, "roc_auc": 0.99}).promote
    small = rule({"f1": 0.915, "roc_auc": 0.99}, {"f1": 0.91, "roc_auc": 0.9})
    assert not small.promote and "needs +0.01" in small.reason
    assert not rule({"f1": 0.80, "roc_auc": 1.0}, {"f1": 0.91, "roc_auc": 0.9}).promote


def test_a_tie_on_f1_is_broken_by_auc_with_the_same_margin():
    assert rule({"f1": 0.9, "roc_auc": 0.95}, {"f1": 0.9, "roc_auc": 0.93}).promote
    assert not rule({"f1": 0.9, "roc_auc": 0.935}, {"f1": 0.9, "roc_auc": 0.93}).promote


def test_a_champion_that_cannot_be_scored_is_not_replaced_blindly():
    decision = rule({"f1": 0.99, "roc_auc": 0.99}, None)
    assert not decision.promote and "could not be scored" in decision.reason


def test_promotion_judged_on_todays_traffic_with_the_reference_as_a_guard():
    from trainer.selection import PromotionRule, decide_promotion

    rule = PromotionRule(decide_on="recent", recent_share=0.3, min_recent_rows=100, margin=0.0, max_reference_drop=0.05)
    assert rule.recent_rows(1000) == 300 and rule.recent_rows(200) == 0  # 60 newest rows are too few to judge on
    common = dict(metric="f1", tiebreak="roc_auc", challenger_version="2", champion_version="1")
    # The failing champion is still better on the pre-drift hold-out; on today's traffic the retrained one wins.
    reference = ({"f1": 0.978, "roc_auc": 0.99}, {"f1": 0.989, "roc_auc": 0.995})
    recent = ({"f1": 0.93, "roc_auc": 0.97}, {"f1": 0.81, "roc_auc": 0.90})
    won = decide_promotion(reference, recent, 300, rule, **common)
    assert won.promote and "on the 300 most recent labelled production rows" in won.reason
    forgets = decide_promotion(({"f1": 0.90}, {"f1": 0.989}), recent, 300, rule, **common)
    assert not forgets.promote and "would forget" in forgets.reason  # 0.089 lost on the reference
    worse_now = decide_promotion(reference, ({"f1": 0.80}, {"f1": 0.81}), 300, rule, **common)
    assert not worse_now.promote
    too_few = decide_promotion(reference, None, 0, rule, **common)
    assert not too_few.promote and "the reference hold-out decided" in too_few.reason
    # Labels late: the reference hold-out would promote (it speaks for yesterday's traffic); under the shipped rule
    # the version is neither promoted nor declined on it, it stays challenger for the shadow test.
    better_before = ({"f1": 0.99, "roc_auc": 0.99}, {"f1": 0.97, "roc_auc": 0.99})
    assert decide_promotion(better_before, None, 0, rule, **common).promote
    shadow = PromotionRule(decide_on="recent", min_recent_rows=100, too_few_recent="shadow")
    waits = decide_promotion(better_before, None, 0, shadow, **common)
    assert not waits.promote and "judged in the shadow on live traffic" in waits.reason
    assert decide_promotion(better_before, recent, 300, shadow, **common).promote  # enough rows: judged at once
    assert decide_promotion(({"f1": 0.9}, None), None, 0, shadow, metric="f1", tiebreak="roc_auc",
                            challenger_version="1", champion_version=None).promote  # no champion: nothing to shadow
    first = decide_promotion(({"f1": 0.9}, None), None, 0, rule, metric="f1", tiebreak="roc_auc",
                             challenger_version="1", champion_version=None)
    assert first.promote


def test_after_a_drift_the_hold_out_is_the_newest_share_of_the_rows_labelled_since_it_began():
    rule = PromotionRule(decide_on="recent", recent_share=0.3, min_recent_rows=100, recent_of_last=400)
    assert rule.recent_rows(1900) == 120  # 30% of the 400 changed rows, not of the 1,900 since yesterday
    assert PromotionRule(decide_on="recent", recent_share=0.3, min_recent_rows=100, recent_of_last=300)\
        .recent_rows(1900) == 0  # 90 < 100: too few, too_few_recent decides
    assert "400 production rows labelled since the incident began" in rule.words()
