"""Evidence a person sees before deciding, and the trends: drift reports turned into charts. Pure."""

from __future__ import annotations

from ui.axes import COUNT, RATE, SCORE, Axis
from ui.charts import COLOURS, Band, Rule, Series, column_chart, line_chart
from ui.dist_charts import distribution_chart, prediction_shift_chart, small_multiple

PREDICTION = "__prediction__"  # the monitor's column for the prediction distribution
METRICS = {"f1": "F1", "accuracy": "Accuracy", "roc_auc": "ROC AUC"}  # realized and estimated, by the monitor's keys


def _label(report: dict) -> str:
    end = (report.get("window") or {}).get("end") or report.get("_time") or ""
    return str(end)[5:16].replace("T", " ")


def shown_name(feature: str) -> str:
    return "predictions" if feature == PREDICTION else feature


def feature_ratios(reports: list[dict]) -> dict[str, tuple[list[float | None], list[bool]]]:
    """Per feature, its drift statistic over the windows as a multiple of its threshold, and whether it drifted.
    The first entry a report lists for a feature is its detector of record (the monitor lists its histogram
    statistics after)."""
    out: dict[str, tuple[list[float | None], list[bool]]] = {}
    for k, report in enumerate(reports):
        seen = set()
        for f in report.get("features", []):
            name = f.get("feature")
            if name in seen:
                continue
            seen.add(name)
            ratios, marked = out.setdefault(name, ([None] * len(reports), [False] * len(reports)))
            threshold = f.get("threshold") or 0.0
            ratios[k] = f["value"] / threshold if threshold > 0 else f["value"]
            marked[k] = bool(f.get("drifted"))
    return out


def features_to_show(reports: list[dict], involved: list[str], most: int | None = None) -> list[str]:
    """The features named by the incident first, then those drifted in the latest window, then the rest by how close
    they are to their threshold."""
    ratios = feature_ratios(reports)
    latest = {name: (r[-1] or 0.0, m[-1]) for name, (r, m) in ratios.items()} if reports else {}
    rest = sorted(latest, key=lambda n: (not latest[n][1], -latest[n][0]))
    seen: list[str] = []
    for name in [*involved, *rest]:
        if name not in seen and (name in latest or name in involved):
            seen.append(name)
    return seen[:most] if most else seen


def feature_overview(reports: list[dict], involved: list[str]) -> list[str]:
    """A small multiple per feature (drifted first): its statistic over windows against its threshold."""
    ratios = feature_ratios(reports)
    drifted = set(involved) | {n for n, (_, m) in ratios.items() if m and m[-1]}
    return [small_multiple(shown_name(name), *ratios[name], drifted=name in drifted)
            for name in features_to_show(reports, involved) if name in ratios]


def latest_impact(reports: list[dict]) -> tuple[dict | None, str]:
    """The newest window's WindowImpact that names drifted features, with the window's label."""
    for report in reversed(reports):
        impact = report.get("impact") or {}
        if impact.get("features"):
            return impact, _label(report)
    return None, ""


def drift_pictures(reports: list[dict]) -> dict:
    """For the approval page: each drifted feature's distribution, and what the drift does to the predictions."""
    impact, window = latest_impact(reports)
    if impact is None:
        return {"distributions": [], "shift": None, "window": ""}
    charts = [distribution_chart(f) for f in impact["features"] if f.get("distribution")]
    return {"distributions": charts, "shift": prediction_shift_chart(impact), "window": window}


def _realized(report: dict, metric: str) -> float | None:
    """A metric on the window's labelled rows: as reported, else from its confusion counts, else the estimate's."""
    quality = report.get("quality") or {}
    if metric in quality:
        return quality[metric]
    tp, fp, fn, tn = (quality.get(k) for k in ("tp", "fp", "fn", "tn"))
    if None not in (tp, fp, fn, tn) and tp + fp + fn + tn > 0:
        if metric == "f1":
            return 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if metric == "accuracy":
            return (tp + tn) / (tp + fp + fn + tn)
    return ((report.get("estimate") or {}).get("realized") or {}).get(metric)


def quality_charts(reports: list[dict], labels: list[str]) -> list[str]:
    """One chart per metric on a 0-1 axis: realized on labelled rows, estimated before labels (dashed, with its
    interval shaded) when the monitor estimates it, the champion's reference level as a rule."""
    charts = []
    for metric, name in METRICS.items():
        realized = [_realized(r, metric) for r in reports]
        estimated = [(r.get("quality") or {}).get(f"estimated_{metric}") for r in reports]
        if not any(v is not None for v in realized + estimated):
            continue
        series = [Series(f"{name} on labels", realized, colour=COLOURS[0])]
        bands = []
        if any(v is not None for v in estimated):
            series.append(Series(f"{name} estimated", estimated, dashed=True, colour=COLOURS[1]))
            q = [r.get("quality") or {} for r in reports]
            bands.append(Band(f"{name} estimate's interval", [x.get(f"estimated_{metric}_lower") for x in q],
                              [x.get(f"estimated_{metric}_upper") for x in q], colour=COLOURS[1]))
        reference = next(((r.get("quality") or {}).get(f"reference_{metric}") for r in reversed(reports)
                          if (r.get("quality") or {}).get(f"reference_{metric}") is not None), None)
        rules = [Rule(reference, f"reference {reference:.2f}", "reference")] if reference is not None else []
        charts.append(line_chart(f"{name} of the champion", series, labels, axis=Axis(name, SCORE, 0.0, 1.0),
                                 bands=bands, rules=rules))
    return charts or [line_chart("Quality of the champion", [], labels, axis=Axis("score", SCORE, 0.0, 1.0))]


def trend_charts(reports: list[dict]) -> list[str]:
    """The champion over windows, one quantity per chart: drift share, quality, labelled rows, latency if reported."""
    labels = [_label(r) for r in reports]
    charts = [line_chart("Features drifted", [Series("share of features", [r.get("share_drifted") for r in reports])],
                         labels, axis=Axis("share of features", RATE, 0.0, 1.0)), *quality_charts(reports, labels)]
    labelled = [(r.get("quality") or {}).get("labelled") for r in reports]
    charts.append(column_chart("Labelled predictions per window", labelled, labels, axis=Axis("rows", COUNT)))
    latency = sorted({k for r in reports for k in (r.get("quality") or {}) if "latency" in k})
    if latency:
        charts.append(line_chart("Request latency", [Series(k, [(r.get("quality") or {}).get(k) for r in reports])
                                                     for k in latency], labels, axis=Axis("ms")))
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
