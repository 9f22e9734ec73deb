"""Prometheus and Alertmanager in docker-compose.yml: infra/prometheus's configs with container addresses only,
scraping the ports the services are told to listen on, and valid for promtool and amtool."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.unit.test_deploy_config import ROOT, compose

LOCAL, CONTAINER = ROOT / "infra/prometheus", ROOT / "infra/compose"


def addresses() -> dict[str, str]:
    """127.0.0.1:<port> on one machine -> <service>:<port> in compose, from the ports compose sets."""
    services = compose()["services"]
    gateway = services["gateway"]["environment"]["DRIFTLINE_GATEWAY_PORT"]
    monitor = services["monitor"]["environment"]["DRIFTLINE_MONITOR_METRICS_PORT"]
    alertmanager = next(str(p) for p in services["alertmanager"]["expose"])
    found = {f"127.0.0.1:{gateway}": f"gateway:{gateway}", f"127.0.0.1:{monitor}": f"monitor:{monitor}",
             f"127.0.0.1:{alertmanager}": f"alertmanager:{alertmanager}"}
    for name in ("worker", "agent", "projector"):
        port = services[name]["environment"][f"DRIFTLINE_{name.upper()}_METRICS_PORT"]
        found[f"127.0.0.1:{port}"] = f"{name}:{port}"
    return found


def localised(path) -> dict:
    text = path.read_text()
    for local, container in addresses().items():
        text = text.replace(local, container)
    return yaml.safe_load(text)


def _jobs(config: dict) -> dict[str, dict]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


def _targets(job: dict) -> list[tuple[str, str]]:
    """(host, port) of a job: its static targets, or the names its DNS discovery resolves."""
    static = [tuple(t.split(":")) for sc in job.get("static_configs", []) for t in sc["targets"]]
    found = [(name, str(sd["port"])) for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
    return static + found


@pytest.mark.parametrize("name", ["prometheus.yml", "alertmanager.yml"])
def test_compose_configs_are_the_tested_ones_with_container_addresses(name):
    compose_config, local = yaml.safe_load((CONTAINER / name).read_text()), localised(LOCAL / name)
    if name == "prometheus.yml":  # the worker job alone differs: replicas found by DNS, checked below
        worker = _jobs(compose_config)["driftline-worker"]
        assert _targets(worker) == _targets(_jobs(local)["driftline-worker"])
        assert worker["relabel_configs"] == [{"target_label": "service", "replacement": "worker"}]
        for config in (compose_config, local):
            config["scrape_configs"] = [j for j in config["scrape_configs"] if j["job_name"] != "driftline-worker"]
    assert compose_config == local, f"infra/compose/{name} drifted from infra/prometheus/{name}"
    assert "127.0.0.1" not in (CONTAINER / name).read_text()


def test_each_worker_replica_is_scraped_on_its_own():
    """Replicas share the name `worker`; a static target would scrape whichever one DNS hands out each time."""
    config = yaml.safe_load((CONTAINER / "prometheus.yml").read_text())
    worker = _jobs(config)["driftline-worker"]
    assert "static_configs" not in worker
    [sd] = worker["dns_sd_configs"]
    assert sd["type"] == "A" and sd["names"] == ["worker"]
    assert compose()["services"]["worker"]["deploy"]["replicas"] >= 2


def test_every_scrape_target_is_a_service_listening_there():
    services = compose()["services"]
    config = yaml.safe_load((CONTAINER / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        for host, port in _targets(job):
            env = services[host]["environment"]
            assert port in {str(v) for k, v in env.items() if k.endswith("_PORT")}, f"{job['job_name']}: {host}:{port}"
            host_vars = [k for k in env if k.endswith("_HOST") and k.replace("_HOST", "_PORT") in env]
            assert all(env[k] == "0.0.0.0" for k in host_vars), f"{host} listens on loopback only"


def test_only_the_gateway_and_the_page_are_published():
    """MLflow, Prometheus and Alertmanager have no sign-in: reachable inside the stack, never on a host port."""
    services = compose()["services"]
    assert sorted(name for name, svc in services.items() if svc.get("ports")) == ["gateway", "ui"]
    for name in ("mlflow", "prometheus", "alertmanager"):
        assert services[name].get("expose"), f"{name} should say which port it serves inside the stack"


def test_prometheus_mounts_its_rules_and_alertmanager_its_token():
    services = compose()["services"]
    mounts = dict(v.rsplit(":", 2)[:2] if v.endswith(":ro") else v.split(":", 1) for v in
                  services["prometheus"]["volumes"])
    config = yaml.safe_load((CONTAINER / "prometheus.yml").read_text())
    for rule_file in config["rule_files"]:
        source = next(src for src, dst in mounts.items() if dst == f"/etc/prometheus/{rule_file}")
        assert (ROOT / source).read_text() == (LOCAL / rule_file).read_text()
    receiver = yaml.safe_load((CONTAINER / "alertmanager.yml").read_text())["receivers"][0]["webhook_configs"][0]
    credentials = receiver["http_config"]["authorization"]["credentials_file"]
    # init writes DRIFTLINE_ALERTMANAGER_TOKEN into a volume that Alertmanager mounts read-only where its config
    # looks (compose's environment-sourced secrets are a Compose v2 feature that docker-compose 1.29 refuses).
    volume, mount = next((v.split(":")[0], v.split(":")[1]) for v in services["alertmanager"]["volumes"]
                         if credentials.startswith(v.split(":")[1] + "/"))
    written = next(v.split(":")[1] for v in services["init"]["volumes"] if v.split(":")[0] == volume)
    init_script = (ROOT / "infra/compose/init.sh").read_text()
    assert f'AM=$OUT/{written.removeprefix("/run/driftline/")}' in init_script and f'"$AM/{credentials.removeprefix(mount + "/")}"' in init_script
    assert "DRIFTLINE_ALERTMANAGER_TOKEN" in services["init"]["environment"]
    assert "DRIFTLINE_ALERTMANAGER_TOKEN" in services["gateway"]["environment"]
    assert receiver["url"] == f"http://gateway:{services['gateway']['environment']['DRIFTLINE_GATEWAY_PORT']}" \
                              "/webhooks/alertmanager"


def test_promtool_accepts_the_compose_config(tmp_path):
    shutil.copy(CONTAINER / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(LOCAL / "rules.yml", tmp_path / "rules.yml")
    done = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_amtool_accepts_the_compose_config():
    done = subprocess.run(["amtool", "check-config", str(CONTAINER / "alertmanager.yml")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
