"""Evidence a person sees before deciding, and the trends: drift reports turned into charts. Pure."""

from __future__ import annotations

from ui.charts import Series, line_chart


def _label(report: dict) -> str:
    end = (report.get("window") or {}).get("end") or report.get("_time") or ""
    return str(end)[5:16].replace("T", " ")


def features_to_show(reports: list[dict], involved: list[str], most: int = 6) -> list[str]:
    """The features named by the incident first, then those drifted in the latest window, then the rest."""
    seen: list[str] = []
    latest = reports[-1]["features"] if reports else []
    ordered = list(involved) + [f["feature"] for f in latest if f.get("drifted")] + [f["feature"] for f in latest]
    for name in ordered:
        if name not in seen:
            seen.append(name)
    return seen[:most]


def feature_charts(reports: list[dict], involved: list[str]) -> list[str]:
    """One SVG per feature: its drift statistic per window against its threshold, drifted windows marked."""
    labels = [_label(r) for r in reports]
    charts = []
    for name in features_to_show(reports, involved):
        values, marked, statistic, threshold = [], [], "", None
        for report in reports:
            found = next((f for f in report.get("features", []) if f.get("feature") == name), None)
            values.append(found["value"] if found else None)
            marked.append(bool(found and found.get("drifted")))
            if found:
                statistic, threshold = found.get("statistic", ""), found.get("threshold")
        charts.append(line_chart(f"{name} — {statistic}", [Series(name, values, marked)], labels,
                                 threshold=threshold, css_class="chart drift-chart"))
    return charts


def trend_charts(reports: list[dict]) -> list[str]:
    """The champion's live quality, drift share and latency (when the monitor reports it) over windows."""
    if not reports:
        return [line_chart("Share of features drifted", [], []), line_chart("Live quality (labelled events)", [], [])]
    labels = [_label(r) for r in reports]
    charts = [line_chart("Share of features drifted",
                         [Series("share drifted", [r.get("share_drifted") for r in reports])], labels)]
    keys = sorted({k for r in reports for k in (r.get("quality") or {})})
    quality = [k for k in keys if "latency" not in k]
    latency = [k for k in keys if "latency" in k]
    if quality:
        charts.append(line_chart("Live quality (labelled events)",
                                 [Series(k, [(r.get("quality") or {}).get(k) for r in reports]) for k in quality],
                                 labels))
    else:
        charts.append(line_chart("Live quality (labelled events)", [], labels))
    if latency:
        charts.append(line_chart("Request latency",
                                 [Series(k, [(r.get("quality") or {}).get(k) for r in reports]) for k in latency],
                                 labels))
    return charts


def reports_latency(reports: list[dict]) -> bool:
    """Whether the monitor's reports carry a latency figure (else the page reads it from the predictions)."""
    return any("latency" in k for r in reports for k in (r.get("quality") or {}))


def report_links(*groups: list) -> list[str]:
    """Distinct report URLs from evidence items, diagnoses and drift reports, newest last."""
    urls: list[str] = []
    for group in groups:
        for item in group or []:
            url = item.get("report_url") if isinstance(item, dict) else None
            if url and url not in urls:
                urls.append(url)
    return urls


def report_href(url: str) -> str:
    """A report the monitor saved under reports_dir is served under /reports/; an absolute URL stays."""
    if url.startswith(("http://", "https://", "/")):
        return url
    return "/reports/" + url
