"""docs/operations.md covers what the code has: every service, every metric it defines, every alert rule, every
secret setting, and every command it tells people to run exists."""

from __future__ import annotations

import re

import pytest
import yaml

from driftline.services import SERVICES
from infra.settings import Settings
from tests.unit.test_deploy_config import PACKAGES, ROOT, env_name

GUIDE = (ROOT / "docs/operations.md").read_text()
METRIC = re.compile(r"""(?:Counter|Gauge|Histogram|Summary)\(\s*["'](driftline_[a-z0-9_]+)["']""")


def defined_metrics() -> set[str]:
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found.update(METRIC.findall(path.read_text()))
    return found


def test_every_metric_the_code_defines_is_explained():
    metrics = defined_metrics()
    assert len(metrics) > 20
    missing = sorted(m for m in metrics if f"`{m}`" not in GUIDE)
    assert not missing, f"docs/operations.md does not explain {missing}"


def test_every_alert_rule_is_explained():
    rules = yaml.safe_load((ROOT / "infra/prometheus/rules.yml").read_text())
    alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert alerts
    missing = [a for a in alerts if f"`{a}`" not in GUIDE]
    assert not missing, f"docs/operations.md does not explain {missing}"


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_service_has_a_section(name):
    assert f"### `driftline serve {name}`" in GUIDE


def test_every_secret_setting_has_a_rotation():
    rotation = GUIDE[GUIDE.index("## Rotating keys and secrets"):GUIDE.index("## Metrics")]
    secrets = [f for f, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation)]
    missing = [env_name(f) for f in secrets if env_name(f) not in rotation]
    assert not missing, f"no rotation procedure for {missing}"


def test_variables_and_commands_the_guide_names_exist():
    for variable in set(re.findall(r"DRIFTLINE_[A-Z0-9_]+", GUIDE)):
        assert variable.removeprefix("DRIFTLINE_").lower() in Settings.model_fields, variable
    from typer.main import get_command

    from driftline.cli import app

    cli = get_command(app)
    for command in set(re.findall(r"`driftline ([a-z]+(?: [a-z][a-z-]*)?)", GUIDE)):
        words = command.split()
        group = cli.commands.get(words[0])
        assert group is not None, f"`driftline {command}` does not exist"
        if len(words) > 1 and hasattr(group, "commands") and words[1] not in SERVICES:
            assert words[1] in group.commands, f"`driftline {command}` does not exist"
    for path in re.findall(r"`((?:tests|infra|bench|docs)/[A-Za-z0-9_./-]+\.(?:py|yml|conf|md))`", GUIDE):
        assert list(ROOT.glob(path.replace("-N.", "-*."))), f"the guide names {path}, which does not exist"
