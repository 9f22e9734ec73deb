"""Prometheus and Alertmanager on one machine, for `driftline up`: configs generated from the settings' ports.

Debian's `prometheus` and `prometheus-alertmanager` packages (scripts/install.sh --test installs them) run as they
are. Prometheus evaluates the project's rules (infra/prometheus/rules.yml) and scrapes every service's /metrics;
worker replicas are found through a file that `up` rewrites whenever it starts or stops one (file_sd, re-read on
change), each replica on its own port. Alertmanager posts every alert to the gateway's /webhooks/alertmanager with
the bearer token the gateway checks, so the serving alerts reach the agent and its scale action, all on loopback.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from infra.settings import Settings

RULES = Path(__file__).parent / "prometheus" / "rules.yml"
PROMETHEUS_BINARIES = ("prometheus",)
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, then upstream's
INSTALL_HINT = "apt-get install prometheus prometheus-alertmanager"


def binary(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def scrape_host(host: str) -> str:
    """Where to reach a service bound to `host` from this machine."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def static_targets(settings: Settings) -> dict[str, str]:
    """job -> address of each service with a /metrics endpoint and a fixed port (the worker's replicas: file_sd)."""
    s = settings
    jobs = {"gateway": f"{scrape_host(s.gateway_host)}:{s.gateway_port}",
            "monitor": f"{scrape_host(s.monitor_metrics_host)}:{s.monitor_metrics_port}"}
    for name in ("agent", "projector"):
        port = getattr(s, f"{name}_metrics_port")
        if port:
            jobs[name] = f"{scrape_host(s.metrics_host)}:{port}"
    if s.notifier_metrics_port:
        jobs["notifier"] = f"127.0.0.1:{s.notifier_metrics_port}"  # the notifier binds loopback only
    return jobs


def prometheus_config(settings: Settings, folder: Path, interval_s: float) -> dict:
    """The scrape and rule configuration (infra/prometheus/prometheus.yml with this run's ports)."""
    every = f"{interval_s:g}s"
    scrape = [{"job_name": f"driftline-{name}", "metrics_path": "/metrics",
               "static_configs": [{"targets": [address], "labels": {"service": name}}]}
              for name, address in static_targets(settings).items()]
    scrape.append({"job_name": "driftline-worker", "metrics_path": "/metrics",
                   "file_sd_configs": [{"files": [str(folder / "targets" / "worker.json")],
                                        "refresh_interval": every}]})
    return {"global": {"scrape_interval": every, "evaluation_interval": every},
            "rule_files": [str(RULES)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{settings.alertmanager_port}"]}]}]},
            "scrape_configs": scrape}


def alertmanager_config(settings: Settings, token_file: Path) -> dict:
    """infra/prometheus/alertmanager.yml with this run's gateway address and token file."""
    gateway = f"http://{scrape_host(settings.gateway_host)}:{settings.gateway_port}/webhooks/alertmanager"
    return {"route": {"receiver": "driftline-gateway", "group_by": ["alertname", "model"], "group_wait": "10s",
                      "group_interval": "1m", "repeat_interval": "12h"},
            "receivers": [{"name": "driftline-gateway", "webhook_configs": [{
                "url": gateway, "send_resolved": True, "max_alerts": 0,
                "http_config": {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}}}]}]}


@dataclass
class LocalMonitoring:
    """The two configs and command lines, in DATA_DIR/prometheus and DATA_DIR/alertmanager."""

    settings: Settings
    data_dir: Path

    def __post_init__(self):
        self.prometheus_dir = self.data_dir / "prometheus"
        self.alertmanager_dir = self.data_dir / "alertmanager"
        self.prometheus = binary(PROMETHEUS_BINARIES)
        self.alertmanager = binary(ALERTMANAGER_BINARIES)

    @property
    def missing(self) -> list[str]:
        return [name for name, path in (("prometheus", self.prometheus), ("alertmanager", self.alertmanager))
                if path is None]

    def alertmanager_token(self) -> str:
        """The gateway's token from the settings, or one made for this run (the gateway gets it from `up`)."""
        token = self.settings.alertmanager_token
        return token.get_secret_value() if token else secrets.token_urlsafe(32)

    def write(self, token: str, worker_ports: list[int]) -> None:
        (self.prometheus_dir / "targets").mkdir(parents=True, exist_ok=True)
        self.alertmanager_dir.mkdir(parents=True, exist_ok=True)
        token_file = self.alertmanager_dir / "token"
        token_file.touch(mode=0o600)
        os.chmod(token_file, 0o600)
        token_file.write_text(token)
        interval = self.settings.prometheus_scrape_interval_s
        _write_yaml(self.prometheus_dir / "prometheus.yml", prometheus_config(self.settings, self.prometheus_dir,
                                                                              interval))
        _write_yaml(self.alertmanager_dir / "alertmanager.yml", alertmanager_config(self.settings, token_file))
        self.write_workers(worker_ports)

    def write_workers(self, ports: list[int]) -> None:
        """Each worker replica's /metrics; Prometheus notices the file change and scrapes the new set."""
        host = scrape_host(self.settings.metrics_host)
        doc = [{"targets": [f"{host}:{port}" for port in ports], "labels": {"service": "worker"}}]
        path = self.prometheus_dir / "targets" / "worker.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(path)  # atomic: Prometheus never reads half a file

    def prometheus_cmd(self) -> list[str]:
        return [self.prometheus, f"--config.file={self.prometheus_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.prometheus_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.settings.prometheus_port}",
                "--storage.tsdb.retention.time=7d", "--enable-feature=exemplar-storage"]

    def alertmanager_cmd(self) -> list[str]:
        return [self.alertmanager, f"--config.file={self.alertmanager_dir / 'alertmanager.yml'}",
                f"--storage.path={self.alertmanager_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.settings.alertmanager_port}",
                "--cluster.listen-address="]  # no gossip port: one Alertmanager, nothing to form a cluster with


def _write_yaml(path: Path, doc: dict) -> None:
    path.write_text("# Written by `driftline up` from the settings at each start; edits here are overwritten.\n"
                    + yaml.safe_dump(doc, sort_keys=False))
