"""The Prometheus and Alertmanager configs `driftline up` writes: the settings' ports, the project's rules, each worker
replica a target, the gateway's webhook with a token file only its owner reads."""

from __future__ import annotations

import json
import stat
import subprocess

import yaml

from infra.local_monitoring import RULES, LocalMonitoring, alertmanager_config, prometheus_config
from infra.settings import Settings


def settings(tmp_path, **extra) -> Settings:
    return Settings(data_dir=tmp_path, gateway_port=18000, monitor_metrics_port=19102, worker_metrics_port=19101,
                    agent_metrics_port=19104, projector_metrics_port=None, alertmanager_port=19093, **extra)


def test_prometheus_scrapes_every_service_on_the_settings_ports_and_evaluates_the_rules(tmp_path):
    config = prometheus_config(settings(tmp_path, gateway_host="0.0.0.0"), tmp_path, 15)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {name: job["static_configs"][0]["targets"] for name, job in jobs.items() if "static_configs" in job} == {
        "driftline-gateway": ["127.0.0.1:18000"], "driftline-monitor": ["127.0.0.1:19102"],
        "driftline-agent": ["127.0.0.1:19104"]}  # no projector port: not scraped
    assert jobs["driftline-worker"]["file_sd_configs"][0]["files"] == [str(tmp_path / "targets" / "worker.json")]
    assert config["rule_files"] == [str(RULES)] and RULES.exists()
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:19093"]
    assert config["global"] == {"scrape_interval": "15s", "evaluation_interval": "15s"}


def test_alertmanager_posts_to_the_gateways_webhook_with_the_token_file(tmp_path):
    config = alertmanager_config(settings(tmp_path), tmp_path / "token")
    [hook] = config["receivers"][0]["webhook_configs"]
    assert hook["url"] == "http://127.0.0.1:18000/webhooks/alertmanager"
    assert hook["http_config"]["authorization"] == {"type": "Bearer", "credentials_file": str(tmp_path / "token")}


def test_written_configs_pass_the_tools_own_checks_and_list_each_worker_replica(tmp_path):
    local = LocalMonitoring(settings(tmp_path), tmp_path)
    local.write("s3cret-token", [19101, 40123])
    token = tmp_path / "alertmanager" / "token"
    assert token.read_text() == "s3cret-token" and stat.S_IMODE(token.stat().st_mode) == 0o600
    [group] = json.loads((tmp_path / "prometheus" / "targets" / "worker.json").read_text())
    assert group["targets"] == ["127.0.0.1:19101", "127.0.0.1:40123"]
    promtool = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus" / "prometheus.yml")],
                              capture_output=True, text=True)
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr
    amtool = subprocess.run(["amtool", "check-config", str(tmp_path / "alertmanager" / "alertmanager.yml")],
                            capture_output=True, text=True)
    assert amtool.returncode == 0, amtool.stdout + amtool.stderr
    assert "s3cret-token" not in yaml.safe_dump(yaml.safe_load((tmp_path / "alertmanager" / "alertmanager.yml")
                                                               .read_text()))
    assert local.prometheus_cmd()[1:4] == [f"--config.file={tmp_path / 'prometheus' / 'prometheus.yml'}",
                                           f"--storage.tsdb.path={tmp_path / 'prometheus' / 'data'}",
                                           "--web.listen-address=127.0.0.1:9090"]
