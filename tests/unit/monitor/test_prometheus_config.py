"""infra/prometheus passes Prometheus's and Alertmanager's own checkers, and each rule fires on its series."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[3] / "infra" / "prometheus"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (bash scripts/install.sh --test installs it)")
    return path


def check(*args: str, cwd: Path = CONFIG) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_rules_pass_promtool():
    assert "SUCCESS: 6 rules found" in check(tool("promtool"), "check", "rules", "rules.yml")


def test_scrape_config_passes_promtool_and_scrapes_gateway_and_monitor():
    out = check(tool("promtool"), "check", "config", "prometheus.yml")
    assert "valid prometheus config" in out
    text = (CONFIG / "prometheus.yml").read_text()
    assert "127.0.0.1:8000" in text and "127.0.0.1:9102" in text


def test_rules_fire_on_their_series():
    assert "SUCCESS" in check(tool("promtool"), "test", "rules", "rules_test.yml")


def test_alertmanager_routes_to_the_gateway_webhook(tmp_path):
    token = tmp_path / "token"
    token.write_text("secret")
    config = tmp_path / "alertmanager.yml"
    config.write_text((CONFIG / "alertmanager.yml").read_text().replace("/etc/driftline/alertmanager_token", str(token)))
    check(tool("amtool"), "check-config", str(config), cwd=tmp_path)
    assert "/webhooks/alertmanager" in config.read_text()
