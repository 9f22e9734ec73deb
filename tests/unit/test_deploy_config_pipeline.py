"""The delivery pipeline, checked statically: the CI workflow, the Dockerfile and the Render blueprint."""

from __future__ import annotations

import re
import subprocess
import sys
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
    container_for,
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
    assert any(run.startswith("actionlint") for run in runs("lint"))
    # scripts/install.sh installs Debian packages as root: the job runs in a Debian container, privileged so that
    # tests/topology can start its own dockerd, with the engine's work folder on the runner's disk.
    container = workflow()["jobs"]["test"]["container"]
    assert "bookworm" in container["image"] and "--privileged" in container["options"]
    assert any(v.endswith(":/var/tmp/driftline-topology") for v in container["volumes"])
    assert workflow()["jobs"]["test"]["timeout-minutes"] <= 90


def test_ci_builds_the_image_compose_uses_and_smoke_tests_it():
    steps = " ".join(runs("images"))
    image = compose()["services"]["gateway"]["image"]
    assert f"docker build -f {compose()['services']['gateway']['build']['dockerfile']} -t {image} ." in steps
    assert "docker compose -f docker-compose.yml up -d --no-build --wait" in steps
    assert "docker compose -f docker-compose.yml run --rm --no-deps train" in steps  # the one-shot, on its own
    last_up = [r for r in runs("images") if "up -d --no-build --wait" in r][-1].split()
    one_shots = {n for n, svc in compose()["services"].items() if svc.get("restart") == "no"}
    # init runs as the NATS nodes' dependency, streams as the services', train on its own above
    assert one_shots == {"init", "streams", "train"}
    long_running = set(compose()["services"]) - one_shots
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
    for unpublished in ("prometheus", "alertmanager"):  # no host port: checked from inside the stack
        assert f"docker compose exec -T {unpublished} wget" in steps


# --- delivery: push, deploy, smoke-test, report ------------------------------------------------------------------

def job(name: str) -> dict:
    return workflow()["jobs"][name]


def on_main_only(name: str) -> bool:
    return job(name)["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_main_pushes_the_tested_image_to_ghcr():
    publish = job("publish")
    assert on_main_only("publish") and set(publish["needs"]) == {"test", "images"}
    assert publish["permissions"]["packages"] == "write"
    script = " ".join(runs("publish"))
    assert "docker login ghcr.io" in script and "--password-stdin" in script
    assert "docker build -f infra/Dockerfile" in script and 'docker push "$image:$GITHUB_SHA"' in script
    assert workflow()["env"]["IMAGE"].startswith("ghcr.io/")


def test_deploy_triggers_render_smoke_tests_the_url_and_reports_by_email_and_slack():
    deploy = job("deploy")
    assert on_main_only("deploy") and deploy["needs"] == ["publish"]
    steps = deploy["steps"]
    names = [step.get("name", "") for step in steps]
    trigger, smoke, report = (next(s for s in steps if word in s.get("name", "")) for word in
                              ("Render deploy", "smoke test the deployed URL", "deployment report (email and Slack)"))
    assert names.index(trigger["name"]) < names.index(smoke["name"]) < names.index(report["name"])
    assert trigger["env"]["RENDER_DEPLOY_HOOKS"] == "${{ secrets.RENDER_DEPLOY_HOOKS }}"
    assert "imgURL=$IMAGE_REF" in trigger["run"]  # Render deploys exactly the image CI pushed
    assert "scripts/deploy_smoke.py" in smoke["run"] and (ROOT / "scripts/deploy_smoke.py").exists()
    assert smoke["env"]["DRIFTLINE_SMOKE_API_KEY"] == "${{ secrets.DRIFTLINE_SMOKE_API_KEY }}"
    assert report["if"] == "always()" and "scripts/deploy_report.py" in report["run"]
    for secret in ("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "REPORT_EMAIL_TO", "SLACK_WEBHOOK_URL"):
        assert report["env"][secret] == f"${{{{ secrets.{secret} }}}}", f"{secret} must come from a secret"


def test_secrets_are_named_never_written():
    """Every secret reaches a step through `env:` from `secrets.*`; no `run:` interpolates one into its script."""
    text = (ROOT / ".github/workflows/ci.yml").read_text()
    for job_doc in workflow()["jobs"].values():
        for step in job_doc["steps"]:
            assert "secrets." not in step.get("run", ""), f"{step.get('name')}: a secret inside the script"
    assert not re.search(r"(hooks\.slack\.com|api\.render\.com/deploy|ghp_|xox[bp]-)", text)


def test_deploy_scripts_explain_themselves():
    for script in ("deploy_smoke.py", "deploy_report.py"):
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--help"], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0 and "--report" in done.stdout, done.stderr


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


UI_WITH_WRITERS = ROOT / "infra/render/ui_with_writers.sh"


def co_located() -> list[str]:
    """Services infra/render/ui_with_writers.sh runs beside the page (they share its reports disk)."""
    return re.search(r"for service in ([a-z ]+); do", UI_WITH_WRITERS.read_text())[1].split()


def render_host(name: str) -> dict:
    """The Render service that runs `driftline serve NAME`: its own, or the page's for the report writers."""
    return render_service("driftline-ui" if name in co_located() else f"driftline-{name}")


def test_render_runs_every_service_from_the_image_ci_pushes():
    image = workflow()["env"]["IMAGE"]
    for svc in blueprint()["services"]:
        assert svc["runtime"] == "image", f"{svc['name']} builds its own image instead of running the tested one"
        url = svc["image"]["url"]
        assert re.fullmatch(r"ghcr\.io/[a-z0-9-]+/driftline:latest", url) and image.endswith("/driftline"), url
        assert svc["image"]["creds"] == {"fromRegistryCreds": {"name": "ghcr"}}
    for name in SERVICES:
        svc = render_host(name)
        if name in co_located():
            assert svc["dockerCommand"] == f"bash /app/{UI_WITH_WRITERS.relative_to(ROOT)}"
        else:
            assert svc["dockerCommand"] == f"driftline serve {name}"
            assert svc["type"] == ("web" if SERVICES[name].url else "worker")
    assert set(co_located()) <= set(SERVICES) and "ui" in co_located()


def test_render_has_the_first_model_job():
    """Without a champion the gateway stays not-ready: Render trains one before the gateway's deploy goes live."""
    gateway = render_service("driftline-gateway")
    assert gateway["preDeployCommand"] == " ".join(compose()["services"]["train"]["command"])
    env = render_env(gateway)
    for variable in ("DRIFTLINE_NATS_URL", "DRIFTLINE_MLFLOW_TRACKING_URI", "DRIFTLINE_STREAM_REPLICAS"):
        assert variable in env, f"the first-model job needs {variable}"


def test_render_page_reads_reports_from_a_disk_its_writers_share():
    """A Render disk belongs to one service: the monitor and notifier that write reports run on the page's."""
    ui = render_service("driftline-ui")
    reports = f"{render_env(ui)['DRIFTLINE_DATA_DIR']['value']}/reports"  # Settings.reports_dir
    assert ui["disk"]["mountPath"] == reports
    writers = {name for name in SERVICES if "reports_dir" in settings_read_by(name)} - {"agent"}
    assert writers <= set(co_located()), f"{writers - set(co_located())} write reports the page cannot read"


def test_render_says_what_it_leaves_out_and_why():
    header = (ROOT / "render.yaml").read_text().split("\nenvVarGroups:")[0]
    for left_out in ("NATS cluster", "Prometheus", "Alertmanager"):
        assert left_out in header, f"render.yaml does not say why it leaves out the {left_out}"
    assert "Render disk belongs to one" in header


@pytest.mark.parametrize("name", list(SERVICES))
def test_render_variables_are_settings_and_cover_what_the_service_reads(name):
    svc = render_host(name)
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
    # What compose hands a service from the operator's environment, Render asks for (or generates).
    operator = {k for k, v in container_for(name)["environment"].items()
                if k.startswith("DRIFTLINE_") and INTERPOLATION.search(str(v)) and k != "DRIFTLINE_LOG_LEVEL"
                and k != "DRIFTLINE_DATABASE_URL" and k != "DRIFTLINE_ALERTMANAGER_TOKEN"}
    assert operator <= set(env), f"{name}: render.yaml never asks for {operator - set(env)}"
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
