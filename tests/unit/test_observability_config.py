"""The observability files hold together: every panel of the Grafana dashboard asks the chosen Prometheus, every
metric a panel names is one the code defines (or a recording rule), the exemplar link names a provisioned data
source, and compose sends every service's traces to the viewer it starts. (What the panels return from a live
Prometheus is tests/e2e/test_dashboard.py; a trace found in the running viewer is scripts/topology.sh's smoke.)"""

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


def test_compose_turns_traces_on_and_every_service_exports_them_to_the_viewer_it_starts():
    from urllib.parse import urlsplit

    from infra import tracing

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    env = compose["x-driftline-env"]
    resolved = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()}  # the defaults
    assert tracing.wanted(resolved)  # on in compose, while `driftline up` leaves them off (tests/unit/test_tracing)
    endpoint = urlsplit(resolved["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert resolved["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"  # the one exporter installed
    viewer = services[endpoint.hostname]
    assert str(endpoint.port) in viewer["expose"] and not viewer.get("ports")  # inside the stack only
    assert viewer["image"].startswith("arizephoenix/phoenix:")
    assert "openinference.project.name=driftline" in resolved["OTEL_RESOURCE_ATTRIBUTES"]  # the smoke test's project
    for name, service in services.items():
        if "driftline serve" in " ".join(service.get("command", [])):
            assert service["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == env["OTEL_EXPORTER_OTLP_ENDPOINT"], name
