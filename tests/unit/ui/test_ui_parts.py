"""Pure parts of the approval page: cookie signing, CSRF comparison, charts, evidence, model versions, events."""

from __future__ import annotations

from xml.etree import ElementTree

from infra.users import User
from ui.auth import Session, Signer
from ui.axes import Axis
from ui.charts import Rule, Series, line_chart
from ui.csrf import login_token_ok, token_ok
from ui.evidence import feature_overview, features_to_show, report_href, report_links, trend_charts
from ui.models_view import versions


def test_signed_cookies_refuse_any_change():
    signer = Signer(b"k" * 32)
    cookie = signer.sign("abc")
    assert signer.unsign(cookie) == "abc"
    assert signer.unsign(cookie[:-1] + ("A" if cookie[-1] != "A" else "B")) is None
    assert signer.unsign("abd" + cookie[3:]) is None
    assert Signer(b"other" * 8).unsign(cookie) is None
    assert signer.unsign(None) is None and signer.unsign("no-dot") is None


def test_csrf_tokens():
    session = Session(User("ada", "approver"), "tok")
    assert token_ok(session, "tok")
    assert not token_ok(session, "tok2") and not token_ok(session, "") and not token_ok(None, "tok")
    assert login_token_ok("a", "a") and not login_token_ok(None, "a") and not login_token_ok("a", "")


def test_chart_is_valid_svg_with_threshold_and_escaped_text():
    svg = line_chart("<b>psi</b>", [Series("x&y", [0.1, None, 0.3], [False, False, True])], ["t0", "t2"],
                     axis=Axis("psi"), rules=[Rule(0.2, "threshold 0.2")])
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert 'class="threshold"' in svg and svg.count('class="alarm"') == 1
    assert "no data yet" in line_chart("empty", [], [], axis=Axis("psi"))


def report(values: dict, drifted: set, quality=None) -> dict:
    return {"features": [{"feature": f, "statistic": "psi", "value": v, "threshold": 0.2, "drifted": f in drifted}
                         for f, v in values.items()], "share_drifted": len(drifted) / len(values),
            "quality": quality or {}, "window": {"end": "2026-01-01T10:00:00+00:00"}, "report_url": "evidently/w.html"}


def test_features_shown_first_those_involved_then_drifted():
    reports = [report({"a": 0.1, "b": 0.3, "c": 0.05}, {"b"})]
    assert features_to_show(reports, ["c"]) == ["c", "b", "a"]
    charts = feature_overview(reports, [])
    assert len(charts) == 3 and all(ElementTree.fromstring(c) is not None for c in charts)
    assert 'class="small-multiple drifted"' in charts[0] and ">b · 1.5×<" in charts[0]


def test_trend_charts_and_report_links():
    reports = [report({"a": 0.1}, set(), {"f1": 0.9, "latency_p95_ms": 12.0}),
               report({"a": 0.3}, {"a"}, {"f1": 0.8, "latency_p95_ms": 15.0})]
    charts = trend_charts(reports)
    # drift share, F1, labelled rows, latency: one quantity per chart
    assert len(charts) == 4 and "latency_p95_ms" in charts[3] and "F1 of the champion" in charts[1]
    assert "Labelled predictions per window" in charts[2]
    assert len(trend_charts(reports[:0])) == 3 and len(trend_charts([report({"a": 0.1}, set())])) == 3
    assert report_links([{"report_url": "evidently/1.html"}], None, reports) == ["evidently/1.html", "evidently/w.html"]
    assert report_href("evidently/1.html") == "/reports/evidently/1.html"
    assert report_href("https://example.org/r.html") == "https://example.org/r.html"


def test_model_versions_champion_and_comparisons():
    events = [
        {"type": "driftline.model.trained.v1", "time": "2026-01-01T00:00:00Z", "data": {
            "version": "1", "best_family": "lr", "selection_metric": "f1",
            "candidates": [{"family": "lr", "metrics": {"f1": 0.9}}, {"family": "rf", "metrics": {"f1": 0.88}}]}},
        {"type": "driftline.model.promoted.v1", "data": {"version": "1", "promoted": True, "reason": "first"}},
        {"type": "driftline.model.trained.v1", "data": {"version": "2", "best_family": "rf", "candidates": []}},
        {"type": "driftline.model.promoted.v1", "data": {"version": "2", "promoted": False, "reason": "worse",
                                                          "challenger_metrics": {"f1": 0.85},
                                                          "champion_metrics": {"f1": 0.9}}},
    ]
    champion, rows = versions(events)
    assert champion == "1"
    assert [(r["version"], r["outcome"], r["champion"]) for r in rows] == [("2", "declined; v1 stayed champion", False),
                                                                          ("1", "promoted", True)]
    assert rows[1]["metrics"] == {"f1": 0.9}
    champion, _ = versions(events + [{"type": "driftline.model.rolled_back.v1",
                                      "data": {"from_version": "1", "to_version": "0", "reason": "r"}}])
    assert champion == "0"


def test_latency_buckets():
    from datetime import UTC, datetime, timedelta

    from ui.latency import bucketize

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    points = [(t0 + timedelta(seconds=i), float(i % 10)) for i in range(100)]
    labels, p50, p95 = bucketize(points, buckets=4)
    assert len(labels) == len(p50) == len(p95) == 4
    assert all(a <= b for a, b in zip(p50, p95, strict=True)) and max(p95) == 9.0
    assert bucketize([]) == ([], [], [])
