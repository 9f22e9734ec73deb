"""The shadow test's charts: the difference with its band against the decision boundary, the statistic against
its threshold."""

from ui.shadow_view import shadow_rows


def test_a_test_becomes_two_charts_and_a_sentence():
    points = [{"pairs": n, "difference": 0.05, "lower_bound": lo, "upper_bound": 0.12, "statistic": s,
               "threshold": 2.303} for n, lo, s in ((50, -0.04, 0.5), (100, -0.01, 1.8), (150, 0.01, 2.4))]
    [row] = shadow_rows([{"challenger_version": "2", "champion_version": "1", "alias": "challenger",
                          "decision": "promote", "decision_event_id": "e1", "points": points,
                          "state": {"alpha": 0.05, "pairs": 150, "budget": 5000}}])
    difference, statistic = row["charts"]
    assert "decision boundary 0" in difference and "band 90% lower" in difference and "150 pairs" in difference
    assert "decides at 2.3" in statistic
    assert row["decision"] == "challenger better: promotion proposed" and row["band"] == (0.01, 0.12)


def test_a_test_without_points_yet_draws_empty_charts():
    [row] = shadow_rows([{"challenger_version": "2", "champion_version": "1", "alias": "challenger",
                          "decision": None, "decision_event_id": None, "points": [],
                          "state": {"alpha": 0.05, "pairs": 0, "budget": 5000}}])
    assert row["decision"] == "running" and "<polyline" not in "".join(row["charts"])
    assert "no data yet" in row["charts"][1]
