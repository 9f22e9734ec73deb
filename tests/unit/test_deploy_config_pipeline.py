"""The delivery pipeline, checked statically: the CI workflow, the Dockerfile and the Render blueprint."""

from __future__ import annotations

import re
import tomllib
from functools import cache

import pytest
import yaml

from driftline.services import SERVICES
from infra.nats_server import CONTAINER_PORTS, container_configs
from infra.settings import Settings
from tests.unit.test_deploy_config import (
    INTERPOLATION,
    MUST_SET,
    ROOT,
    compose,
    env_name,
    field_of,
    settings_read_by,
)


@cache
def workflow() -> dict:
    return yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())


def runs(job: str) -> list[str]:
    return [step["run"] for step in workflow()["jobs"][job]["steps"] if "run" in step]


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("Run the whole test suite"):]
    return re.search(r"```bash\n(.+?)\n```", section, re.S)[1].strip()


def test_ci_runs_the_readme_test_command_and_ruff():
    command = readme_test_command()
    assert any(run.startswith(command) for run in runs("test")), f"CI does not run `{command}`"
    assert any("ruff check ." in run for run in runs("lint"))
    # scripts/install.sh installs Debian packages as root: the job runs in a Debian container.
    assert "bookworm" in workflow()["jobs"]["test"]["container"]
    assert workflow()["jobs"]["test"]["timeout-minutes"] <= 90


def test_ci_builds_the_image_compose_uses_and_smoke_tests_it():
    steps = " ".join(runs("images"))
    image = compose()["services"]["gateway"]["image"]
    assert f"docker build -f {compose()['services']['gateway']['build']['dockerfile']} -t {image} ." in steps
    assert "docker compose -f docker-compose.yml up -d --no-build --wait" in steps
    assert "docker compose -f docker-compose.yml run --rm --no-deps train" in steps  # the one-shot, on its own
    last_up = [r for r in runs("images") if "up -d --no-build --wait" in r][-1].split()
    long_running = set(compose()["services"]) - {"train"}
    assert long_running <= set(last_up) | {"nats-1", "nats-2", "nats-3", "postgres", "mlflow"}, (
        f"the smoke test never starts {long_running - set(last_up)}")
    required = {m["name"] for svc in compose()["services"].values()
                for v in [*(svc.get("environment") or {}).values()] for m in INTERPOLATION.finditer(str(v))
                if m["op"] == ":?"}
    provided = set(workflow()["jobs"]["images"]["env"])
    assert required <= provided, f"the smoke test does not set {required - provided}"
    gateway_port = compose()["services"]["gateway"]["environment"]["DRIFTLINE_GATEWAY_PORT"]
    for path in ("/health", "/ready", "/model", "/predict"):
        assert f"127.0.0.1:{gateway_port}" in steps and path in steps
    api_key = re.search(r'"([^"]+)"', workflow()["jobs"]["images"]["env"]["DRIFTLINE_API_KEYS"])[1]
    assert f'post("{api_key}")' in steps  # the smoke prediction uses a configured key
    ui_port = compose()["services"]["ui"]["environment"]["DRIFTLINE_UI_PORT"]
    assert f"127.0.0.1:{ui_port}/login" in steps


def test_dockerfile_installs_every_package_and_runs_unprivileged():
    text = (ROOT / "infra/Dockerfile").read_text()
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in (p.rstrip("*") for p in include):
        assert f"COPY {package} {package}" in text, f"the image lacks the {package} package"
    assert re.search(r"^USER (?!root)\S+", text, re.M)
    assert "infra.healthcheck" in text and (ROOT / "infra/healthcheck.py").exists()
    assert "DRIFTLINE_DATA_DIR=/data" in text


# --- Render -----------------------------------------------------------------------------------------------------

@cache
def blueprint() -> dict:
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def render_service(name: str) -> dict:
    return next(s for s in blueprint()["services"] if s["name"] == name)


def render_env(service: dict) -> dict[str, dict]:
    env = {}
    for item in service.get("envVars", []):
        if "fromGroup" in item:
            group = next(g for g in blueprint()["envVarGroups"] if g["name"] == item["fromGroup"])
            env.update({v["key"]: v for v in group["envVars"]})
        else:
            env[item["key"]] = item
    return env


def test_render_runs_every_service_from_the_dockerfile():
    for name in SERVICES:
        svc = render_service(f"driftline-{name}")
        assert svc["runtime"] == "docker" and svc["dockerfilePath"] == "./infra/Dockerfile"
        assert svc["dockerCommand"] == f"driftline serve {name}"
        assert svc["type"] == ("web" if SERVICES[name].url else "worker")


@pytest.mark.parametrize("name", list(SERVICES))
def test_render_variables_are_settings_and_cover_what_the_service_reads(name):
    svc = render_service(f"driftline-{name}")
    env = render_env(svc)
    unknown = [k for k in env if k.startswith("DRIFTLINE_") and not field_of(k)]
    assert not unknown, f"{name}: no settings field reads {unknown}"
    for key, item in env.items():
        field = field_of(key)
        if field and "SecretStr" in str(Settings.model_fields[field].annotation):
            assert "value" not in item, f"{name}: secret {key} is written into render.yaml"
    reads = settings_read_by(name)
    # No Alertmanager runs on Render, so the gateway rightly refuses every Alertmanager call there.
    wanted = (MUST_SET - {"alertmanager_token"}) | {"stream_replicas"}
    missing = {env_name(f) for f in wanted & reads} - set(env)
    assert not missing, f"{name} reads {missing}, which render.yaml does not set"
    if "database_url" in reads:
        db = env["DRIFTLINE_DATABASE_URL"]["fromDatabase"]
        assert db["property"] == "connectionString"
        assert db["name"] in [d["name"] for d in blueprint()["databases"]]


def test_render_web_services_listen_where_render_looks():
    for name, (host, port, health) in {"gateway": ("gateway_host", "gateway_port", "/health"),
                                       "ui": ("ui_host", "ui_port", "/login")}.items():
        svc = render_service(f"driftline-{name}")
        env = render_env(svc)
        assert env[env_name(host)]["value"] == "0.0.0.0"
        assert env[env_name(port)]["value"] == env["PORT"]["value"]
        assert svc["healthCheckPath"] == health


def test_render_nats_matches_its_config_and_the_replica_count():
    nats = render_service("driftline-nats")
    assert nats["type"] == "pserv" and nats["disk"]["mountPath"] == "/data"
    config = nats["dockerCommand"].split(" -c ")[1]
    assert config == "/app/infra/nats/nats.conf"
    assert (ROOT / "infra/nats/nats.conf").read_text() == container_configs(("nats",))["nats"]
    common = render_env({"envVars": [{"fromGroup": "driftline-common"}]})
    assert common["DRIFTLINE_NATS_URL"]["value"] == f"nats://driftline-nats:{CONTAINER_PORTS['client']}"
    nodes = [s for s in blueprint()["services"] if s["name"].startswith("driftline-nats")]
    assert common["DRIFTLINE_STREAM_REPLICAS"]["value"] == str(len(nodes))
    mlflow = render_service("driftline-mlflow")
    assert common["DRIFTLINE_MLFLOW_TRACKING_URI"]["value"] == "http://driftline-mlflow:5000"
    assert "--port 5000" in mlflow["dockerCommand"] and "driftline-mlflow:5000" in mlflow["dockerCommand"]
