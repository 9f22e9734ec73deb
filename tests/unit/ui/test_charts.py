"""Charts people read at a glance: round ticks, numbers written out, one quantity per axis, valid escaped SVG."""

from __future__ import annotations

from xml.etree import ElementTree

from ui.axes import COUNT, RATE, SCORE, Axis, count_text, nice_step, number_text, time_labels
from ui.charts import Band, Rule, Series, column_chart, line_chart
from ui.dist_charts import distribution_chart, prediction_shift_chart, small_multiple

NS = "{http://www.w3.org/2000/svg}"


def texts(svg: str, css: str = "tick") -> list[str]:
    root = ElementTree.fromstring(svg)
    return [t.text for t in root.iter(f"{NS}text") if t.get("class") == css]


def test_round_steps_and_numbers_as_people_write_them():
    assert [nice_step(s) for s in (1.0, 0.9, 140.0, 2600.0)] == [0.25, 0.25, 50.0, 1000.0]
    assert [count_text(v) for v in (0, 560, 1560, 12_400, 3_200_000)] == ["0", "560", "1,560", "12.4k", "3.2M"]
    assert number_text(16.3) == "16.3" and number_text(0.25, 0.25) == "0.25" and number_text(0.5, 0.25) == "0.50"
    assert "e+" not in number_text(1560.0) and "e-" not in number_text(0.00012)


def test_a_count_axis_has_round_ticks_from_zero_and_no_exponent():
    svg = column_chart("Labelled predictions per window", [1560, 1700, 1820], ["a", "b", "c"], axis=Axis("rows", COUNT))
    assert texts(svg)[:5] == ["0", "500", "1,000", "1,500", "2,000"]
    assert "rows" in texts(svg, "unit") and ".56e" not in svg and "e+03" not in svg


def test_rates_and_scores_stay_on_zero_to_one_with_their_last_value_written():
    rates = line_chart("Features drifted", [Series("share", [0.0, 0.07])], ["a", "b"], axis=Axis("share", RATE, 0, 1))
    assert texts(rates)[:5] == ["0%", "25%", "50%", "75%", "100%"] and "7%" in texts(rates, "end-label")
    scores = line_chart("F1", [Series("F1", [0.96, 0.92])], ["a", "b"], axis=Axis("F1", SCORE, 0, 1))
    assert texts(scores)[0] == "0" and texts(scores)[-3] == "1.00" and texts(scores, "end-label") == ["0.920"]


def test_room_for_an_estimate_band_and_a_decision_boundary_and_text_is_escaped():
    svg = line_chart("<b>difference</b>", [Series("x&y", [0.01, None, 0.03], [False, False, True], dashed=True)],
                     ["t0", "t1", "t2"], axis=Axis("accuracy difference"),
                     bands=[Band("95% band", [-0.02, -0.01, 0.0], [0.04, 0.05, 0.06])],
                     rules=[Rule(0.05, "promote above"), Rule(-0.05, "keep below", "reference")])
    root = ElementTree.fromstring(svg)
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "x&amp;y" in svg
    assert len(list(root.iter(f"{NS}polygon"))) == 1 and svg.count('class="alarm"') == 1
    assert "promote above" in texts(svg) and 'stroke-dasharray="5 3"' in svg
    assert "style=" not in svg and "<script" not in svg  # the page's CSP allows neither


def test_time_labels_at_most_four_first_and_last_included():
    labels = [f"10:{m:02d}" for m in range(12)]
    picked = time_labels(labels)
    assert len(picked) == 4 and picked[0] == (0, "10:00") and picked[-1] == (11, "10:11")


IMPACT = {"positive_class": "malignant", "reference_positive_rate": 0.37, "positive_rate": 0.61, "features": [
    {"feature": "worst radius", "importance": 0.3, "shift": 2.1, "effect": 0.21, "flip_rate": 0.12,
     "reference_mean": 16.3, "window_mean": 19.1,
     "distribution": {"edges": [10 + i for i in range(17)], "reference": [1 / 16] * 16, "window": [0.0] * 8 + [0.125] * 8}},
    {"feature": "mean texture", "importance": 0.02, "shift": -0.4, "effect": -0.01, "flip_rate": 0.0,
     "reference_mean": 19.3, "window_mean": 18.0}]}


def test_a_drifted_feature_reference_against_now_with_its_means():
    svg = distribution_chart(IMPACT["features"][0])
    root = ElementTree.fromstring(svg)
    assert "worst radius: mean 16.3 → 19.1 (+2.1 SD)" in svg
    assert len([r for r in root.iter(f"{NS}rect") if r.get("height")]) >= 32  # 16 bins, two bars each (+ legend)
    assert texts(svg)[:1] == ["0%"] and "mean now 19.1" in svg


def test_the_shift_in_predictions_and_each_feature_alone():
    svg = prediction_shift_chart(IMPACT)
    assert "Predicted malignant: 37% → 61%" in svg
    assert "+21.0 pts" in svg and "-1.0 pts" in svg and ElementTree.fromstring(svg) is not None


def test_a_small_multiple_marks_its_threshold_and_drifted_windows():
    svg = small_multiple("worst radius", [0.4, 1.6, 2.3], [False, True, True], drifted=True)
    assert "worst radius · 2.3×" in svg and svg.count("<circle") == 2 and 'class="threshold"' in svg
