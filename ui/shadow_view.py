"""The shadow tests as a person reads them: per challenger, the running accuracy difference with its confidence band
against the decision boundary, and the test statistic against its threshold. Pure.

The boundary: the test promotes exactly when the band's lower edge passes 0 (the challenger is better) and keeps the
champion when its upper edge falls below 0 (consumers/monitor/sequential.py), so the band drawn against the zero line
is the decision as it stands; the statistic reaching its threshold is the same event on the test's own scale.
"""

from __future__ import annotations

from ui.axes import NUMBER, Axis
from ui.charts import Band, Rule, Series, line_chart

WORDS = {"promote": "challenger better: promotion proposed", "keep": "challenger worse: the champion stays",
         "inconclusive": "inconclusive at the budget: the champion stays", None: "running"}


def shadow_rows(tests: list[dict]) -> list[dict]:
    """One row per test: who against whom, where it stands, and its two charts (SVG text)."""
    rows = []
    for t in tests:
        points, state = t["points"], t["state"]
        labels = [f"{p['pairs']:,} pairs" for p in points]
        title = f"v{t['challenger_version']} ({t['alias']}) − champion v{t['champion_version']}: accuracy difference"
        difference = line_chart(title, [Series("difference", [p["difference"] for p in points])], labels,
                                axis=Axis("accuracy difference", NUMBER),
                                bands=[Band(f"{1 - 2 * state.get('alpha', 0.05):.0%} confidence band",
                                            [p["lower_bound"] for p in points], [p["upper_bound"] for p in points])],
                                rules=[Rule(0.0, "decision boundary")], css_class="chart shadow-chart")
        statistic = line_chart("test statistic (log mixture likelihood ratio)",
                               [Series("statistic", [p["statistic"] for p in points])], labels,
                               axis=Axis("log likelihood ratio", NUMBER),
                               rules=[Rule(points[-1]["threshold"], "decides at")] if points else [],
                               css_class="chart shadow-chart")
        last = points[-1] if points else None
        rows.append({"challenger": t["challenger_version"], "champion": t["champion_version"], "alias": t["alias"],
                     "pairs": state.get("pairs", 0), "budget": state.get("budget"), "decision": WORDS.get(
                         t["decision"], t["decision"]), "decision_event_id": t["decision_event_id"],
                     "difference": last["difference"] if last else None,
                     "band": (last["lower_bound"], last["upper_bound"]) if last else None,
                     "charts": [difference, statistic]})
    return rows
