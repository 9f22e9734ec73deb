"""The files compose mounts for Grafana and the OpenTelemetry Collector hold together: every panel asks the chosen
Prometheus, every metric a panel names is one the code defines (or a recording rule), the exemplar link names a
provisioned data source, and the collector's pipeline uses only components it defines. (What the panels return
from a live Prometheus is tests/e2e/test_dashboard.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "infra" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "driftline-loop.json").read_text())


def defined_metrics() -> set[str]:
    names = set()
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        names |= set(re.findall(r'(?:Counter|Gauge|Histogram)\(\s*"(driftline_[a-z_]+)"', path.read_text()))
    rules = yaml.safe_load((ROOT / "infra" / "prometheus" / "rules.yml").read_text())
    names |= {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    return names


def test_every_panel_queries_the_chosen_prometheus_for_metrics_the_code_defines():
    defined = defined_metrics()
    panels = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in DASHBOARD["panels"]}) == len(DASHBOARD["panels"])
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
        for target in panel["targets"]:
            used = set(re.findall(r"driftline[_:][a-z0-9_:]+", target["expr"]))
            named = {re.sub(r"_(bucket|count|sum)$", "", m) for m in used}  # a histogram's series
            assert named <= defined, (panel["title"], named - defined)
    titles = {p["title"] for p in panels}
    for wanted in ("Requests per second", "Prediction latency", "Errors", "Predictions per second by version",
                   "Drift statistic per feature", "Estimated vs realized quality", "Consumer lag",
                   "Pending approvals"):
        assert wanted in titles


def test_provisioned_data_sources_are_the_ones_the_dashboard_and_exemplars_use():
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "driftline.yml").read_text())["datasources"]
    by_uid = {s["uid"]: s for s in sources}
    assert by_uid["prometheus"]["type"] == "prometheus" and by_uid["prometheus"]["isDefault"]
    [link] = by_uid["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert link["name"] == "trace_id" and by_uid[link["datasourceUid"]]["type"] == "jaeger"
    [variable] = DASHBOARD["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    [provider] = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "driftline.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"


def test_the_collector_pipeline_uses_only_components_it_defines():
    config = yaml.safe_load((ROOT / "infra" / "otel" / "collector.yaml").read_text())
    pipeline = config["service"]["pipelines"]["traces"]
    for part in ("receivers", "processors", "exporters"):
        assert set(pipeline[part]) <= set(config[part]), part
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")  # what the services send to
    assert pipeline["processors"][0] == "memory_limiter"
