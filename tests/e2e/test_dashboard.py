"""`driftline up` with its Prometheus and Alertmanager, under a short simulated load: every expression of the Grafana
dashboard and of the alert rules returns data from a real Prometheus scraping the live services; a serving alert
goes Alertmanager -> gateway -> agent, whose scale action starts a second worker that Prometheus scrapes too; the
latency histogram's exemplars are trace ids."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from infra.settings import Settings
from tests.e2e.test_up import ROOT, start_up, stop_up, up_env
from tests.model_fixtures import register_simple_model
from tests.unit.inference.models import records

pytestmark = pytest.mark.e2e

DASHBOARD = ROOT / "infra" / "grafana" / "dashboards" / "driftline-loop.json"
RULES = ROOT / "infra" / "prometheus" / "rules.yml"
THRESHOLD = re.compile(r"\s*(>|<|>=|<=|==|!=)\s*[-+0-9.e]+\s*$")


def dashboard_expressions() -> dict[str, str]:
    """panel title / legend -> PromQL, Grafana's interval variable at 1m (the test scrapes every second)."""
    doc = json.loads(DASHBOARD.read_text())
    found = {}
    for panel in doc["panels"]:
        for target in panel.get("targets", []):
            found[f"panel {panel['title']!r} ({target['legendFormat']})"] = target["expr"].replace(
                "$__rate_interval", "1m")
    return found


def rule_expressions() -> dict[str, str]:
    """Recording rules as they are; alerts without their threshold (their signal must exist, firing or not)."""
    found = {}
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                found[f"rule {rule['record']}"] = rule["expr"]
            else:
                found[f"alert {rule['alert']} (signal)"] = THRESHOLD.sub("", rule["expr"])
    return found


def query(prom: httpx.Client, expr: str) -> list:
    answer = prom.get("/api/v1/query", params={"query": expr}).json()
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


def wait_for(prom: httpx.Client, expressions: dict[str, str], seconds: float) -> dict[str, str]:
    """Poll until every expression returns data; returns those that never did."""
    missing = dict(expressions)
    deadline = time.monotonic() + seconds
    while missing and time.monotonic() < deadline:
        missing = {name: expr for name, expr in missing.items() if not query(prom, expr)}
        time.sleep(2)
    return missing


def test_dashboard_and_rule_expressions_return_data_from_prometheus_scraping_the_loop(tmp_path):
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    register_simple_model(settings)  # `up` then skips its first training
    env = {k: v for k, v in up_env(data_dir).items() if not k.startswith(("MLFLOW_", "OTEL_"))}
    env.update(DRIFTLINE_MLFLOW_TRACKING_URI=settings.resolved_mlflow_uri,  # the same store, named: no MLflow UI
               DRIFTLINE_PROMETHEUS_SCRAPE_INTERVAL_S="1", DRIFTLINE_MONITOR_WINDOW_EVENTS="200",
               DRIFTLINE_MONITOR_IDLE_CLOSE_S="2", DRIFTLINE_AGENT_EXPIRY_INTERVAL_S="1",
               OTEL_TRACES_EXPORTER="console")  # traces on (spans go to the services' logs): exemplars to see
    proc, lines, _ = start_up(env)
    try:
        banner = "\n".join(lines)
        prom_url = f"http://127.0.0.1:{env['DRIFTLINE_PROMETHEUS_PORT']}"
        alertmanager = f"http://127.0.0.1:{env['DRIFTLINE_ALERTMANAGER_PORT']}"
        assert prom_url in banner and alertmanager in banner, banner
        assert re.search(r"^\s+traces\s+to console", banner, re.M), banner
        gateway = httpx.Client(base_url=f"http://127.0.0.1:{env['DRIFTLINE_GATEWAY_PORT']}", timeout=30)
        prom = httpx.Client(base_url=prom_url, timeout=30)
        deadline = time.monotonic() + 180  # `up` is ready when the ports answer; the gateway then loads the model
        while gateway.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, gateway.get("/ready").text
            time.sleep(0.5)

        # load: HTTP predictions (some invalid), a drift on the bus with late labels, one serving alert
        for record in records(150):
            assert gateway.post("/predict", json={"features": record}).status_code == 200
        for _ in range(5):
            assert gateway.post("/predict", json={"features": {"mean_radius": "big"}}).status_code == 422
        simulate = subprocess.run(
            [sys.executable, "-m", "driftline", "simulate", "--rows", "1200", "--rate", "400", "--drift-at", "500",
             "--shift", "mean radius=3", "--shift", "mean texture=3", "--shift", "mean perimeter=3",
             "--shift", "mean area=3", "--shift", "mean smoothness=3", "--shift", "mean compactness=3",
             "--shift", "mean concavity=3", "--shift", "mean symmetry=3", "--shift", "worst radius=3",
             "--shift", "worst texture=3",  # 10 of 30 features: DriftlineDriftShareHigh (> 25%) fires in Prometheus
             "--label-delay", "1", "--seed", "7"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        assert simulate.returncode == 0, simulate.stdout + simulate.stderr
        now = datetime.now(UTC).isoformat()
        posted = httpx.post(f"{alertmanager}/api/v2/alerts", json=[{
            "labels": {"alertname": "DriftlinePredictLatencyP99High", "severity": "medium", "kind": "latency"},
            "annotations": {"summary": "p99 0.3 s", "value": "0.3", "threshold": "0.25"}, "startsAt": now}])
        assert posted.status_code == 200, posted.text

        expressions = {**dashboard_expressions(), **rule_expressions()}
        missing = wait_for(prom, expressions, 240)
        assert not missing, "no data for:\n" + "\n".join(f"  {name}: {expr}" for name, expr in missing.items())

        # the alert reached the agent through the gateway; its scale action started a second worker, scraped too
        scraped = wait_for(prom, {"two workers": 'count(up{job="driftline-worker"} == 1) == 2'}, 120)
        assert not scraped, query(prom, 'up{job="driftline-worker"}')
        assert query(prom, 'driftline_webhook_alerts_total{source="alertmanager"}')

        # a rule Prometheus evaluates itself fires, reaches Alertmanager from it, and is delivered to the gateway
        fired = wait_for(prom, {"drift rule": 'ALERTS{alertname="DriftlineDriftShareHigh", alertstate="firing"}'}, 120)
        assert not fired, query(prom, "max by (model) (driftline_monitor_share_drifted)")
        held = httpx.get(f"{alertmanager}/api/v2/alerts", params={"filter": 'alertname="DriftlineDriftShareHigh"'})
        port = f":{env['DRIFTLINE_PROMETHEUS_PORT']}/"  # the generator's URL names its host, not always 127.0.0.1
        assert [port in a["generatorURL"] for a in held.json()] == [True], held.text
        delivered = wait_for(prom, {"both": 'sum(driftline_webhook_alerts_total{source="alertmanager", '
                                            'status="firing"}) >= 2'}, 120)
        assert not delivered, query(prom, 'driftline_webhook_alerts_total{source="alertmanager"}')
        active = prom.get("/api/v1/alertmanagers").json()["data"]["activeAlertmanagers"]
        assert [a["url"] for a in active] == [f"{alertmanager}/api/v2/alerts"]

        # exemplars: the trace ids of /predict requests, stored by Prometheus from the OpenMetrics scrape
        exemplars = prom.get("/api/v1/query_exemplars", params={
            "query": 'driftline_http_request_duration_seconds_bucket{route="/predict"}',
            "start": time.time() - 600, "end": time.time()}).json()["data"]
        trace_ids = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
        assert trace_ids and all(re.fullmatch(r"[0-9a-f]{32}", t) for t in trace_ids), exemplars
    finally:
        alive = stop_up(proc)
    assert proc.returncode == 0 and alive == [], alive
    assert Path(data_dir / "prometheus" / "prometheus.yml").exists()
