"""docker-compose.yml against what the code actually reads: each service's settings, ports and peers.

No Docker engine runs here, so the file is checked statically: every DRIFTLINE_* variable is a settings field
and validates, every setting a service reads that a container must change is set (found by walking the
service's imports from driftline/run_<service>.py), and every host and port points at something listening there.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from pydantic import SecretStr

from driftline.services import SERVICES
from infra.nats_server import CONTAINER_PORTS, container_configs
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "infra", "producers", "inference", "consumers", "agent", "trainer", "ui", "driftline")
FIELDS = set(Settings.model_fields)
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def env_name(field: str) -> str:
    return f"DRIFTLINE_{field.upper()}"


def field_of(variable: str) -> str | None:
    name = variable.removeprefix("DRIFTLINE_").lower()
    return name if variable.startswith("DRIFTLINE_") and name in FIELDS else None


# --- what each service reads ----------------------------------------------------------------------------------

def _module_path(module: str) -> Path | None:
    base = ROOT / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def _imports(module: str, tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: -node.level] if not _is_package(module) else module.split(".")[
                    : len(module.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"[a-z_.]+", node.value):
            found.add(node.value)  # importlib.import_module("producers.webhooks") and the like
    return {m for m in found if m.split(".")[0] in PACKAGES and _module_path(m)}


def _is_package(module: str) -> bool:
    return (ROOT / module.replace(".", "/") / "__init__.py").exists()


@cache
def _settings_properties() -> dict[str, set[str]]:
    """Settings properties -> the fields each reads (resolved_nats_url -> nats_url, nats_host, nats_port)."""
    tree = ast.parse((ROOT / "infra/settings.py").read_text())
    props = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list):
            props[node.name] = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and n.attr in FIELDS}
    return props


def _reads(tree: ast.AST) -> set[str]:
    props = _settings_properties()
    read = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (node.attr in FIELDS or node.attr in props):
            owner = ast.unparse(node.value)
            if owner == "s" or owner.endswith("settings"):
                read |= props.get(node.attr, set()) | {node.attr}  # a property and the fields behind it
    return read


@cache
def settings_read_by(service: str) -> frozenset[str]:
    """Every settings field (and property) the service's modules read, over-approximated by imports."""
    start = SERVICES[service].target.partition(":")[0]
    assert _module_path(start) is not None, f"service {service}: its wiring module {start} is missing"
    seen, todo, read = set(), [start], set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        tree = ast.parse(_module_path(module).read_text())
        read |= _reads(tree)
        todo.extend(_imports(module, tree) - seen)
    return frozenset(read)


# --- the compose file -----------------------------------------------------------------------------------------

@cache
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def container_for(service: str) -> dict:
    return compose()["services"][service]


def sample(variable: str, text: str) -> str:
    """The value a variable has once compose interpolates it, with a made-up secret for required ones."""
    def fill(m: re.Match) -> str:
        if m["op"] in (":-", "-"):
            return m["arg"]
        field = field_of(m["name"])
        if field and Settings.model_fields[field].annotation == list[SecretStr]:
            return '["sample-key"]'
        return f"sample-{m['name'].lower()}"
    return INTERPOLATION.sub(fill, text)


def container_settings(env: dict[str, str], monkeypatch) -> Settings:
    """The Settings object a container with this environment builds."""
    for key in list(__import__("os").environ):
        if key.startswith("DRIFTLINE_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, sample(key, str(value)))
    return Settings()


def published_port(service: dict, container_port: int) -> bool:
    return any(str(p).split(":")[-1] == str(container_port) for p in service.get("ports", []))


DRIFTLINE = list(SERVICES)
# Read by a service, these must be set in a container: their defaults mean "on this machine".
MUST_SET = {"nats_url", "database_url", "mlflow_tracking_uri", "public_ui_url", "ui_secret_key", "alertmanager_token",
            "api_keys"}


def test_every_service_has_its_own_container_built_from_the_dockerfile():
    services = compose()["services"]
    for name in SERVICES:
        assert name in services, f"docker-compose.yml has no container for `driftline serve {name}`"
        svc = services[name]
        assert svc["command"] == ["driftline", "serve", name]
        assert svc["build"]["dockerfile"] == "infra/Dockerfile" and svc["build"]["context"] == "."
        assert (ROOT / svc["build"]["dockerfile"]).exists()
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert svc.get("restart") == "unless-stopped"
        # Configuration only through environment variables: no config file or flag reaches a service.
        assert not [v for v in svc.get("volumes", []) if v.startswith((".", "/"))], f"{name} mounts a host path"
        assert not svc.get("env_file") and not svc.get("configs"), f"{name} reads configuration from a file"
    assert services["train"]["command"][:2] == ["driftline", "train"]


@pytest.mark.parametrize("name", DRIFTLINE)
def test_variables_are_settings_fields_and_validate(name, monkeypatch):
    env = container_for(name)["environment"]
    unknown = [k for k in env if k.startswith("DRIFTLINE_") and not field_of(k)]
    assert not unknown, f"{name}: no settings field reads {unknown}"
    settings = container_settings(env, monkeypatch)  # raises if a value does not validate
    assert settings.log_json


@pytest.mark.parametrize("name", DRIFTLINE)
def test_every_setting_a_container_must_change_is_set(name, monkeypatch):
    reads = settings_read_by(name)
    env = container_for(name)["environment"]
    s = container_settings(env, monkeypatch)
    services = compose()["services"]
    if "nats_url" in reads:
        url = urlparse(s.nats_url or "")
        nodes = [n for n, svc in services.items() if "nats" in svc.get("networks", {}).get("default", {}).get(
            "aliases", []) or n == url.hostname]
        assert len(nodes) == 3, f"{name}: DRIFTLINE_NATS_URL must reach the 3 nodes, not {url.hostname}"
        assert url.port == CONTAINER_PORTS["client"]
    if "stream_replicas" in reads:
        assert s.stream_replicas == 3, f"{name} would re-provision the streams with {s.stream_replicas} replica(s)"
    if "database_url" in reads:
        db, pg = urlparse(s.database_url or ""), services["postgres"]["environment"]
        assert (db.hostname, db.port, db.path.lstrip("/"), db.username) == (
            "postgres", 5432, pg["POSTGRES_DB"], pg["POSTGRES_USER"]), f"{name}: DRIFTLINE_DATABASE_URL"
        assert "${POSTGRES_PASSWORD" in env[env_name("database_url")] and "${POSTGRES_PASSWORD" in pg[
            "POSTGRES_PASSWORD"]
    if reads & {"mlflow_tracking_uri"}:
        uri = urlparse(s.mlflow_tracking_uri or "")
        command = services["mlflow"]["command"]
        assert uri.hostname == "mlflow" and str(uri.port) == command[command.index("--port") + 1]
        allowed = command[command.index("--allowed-hosts") + 1].split(",")
        assert f"mlflow:{uri.port}" in allowed, "the MLflow server would refuse the Host header services send"
    binds = {"gateway": ("gateway_host", "gateway_port"), "ui": ("ui_host", "ui_port")}.get(name)
    if binds:
        host, port = binds
        assert getattr(s, host) == "0.0.0.0", f"{name} would listen on loopback only inside its container"
        listen = getattr(s, port)
        assert published_port(container_for(name), listen), f"{name}: port {listen} is not published"
        assert f":{listen}/" in " ".join(container_for(name)["healthcheck"]["test"])
    for field in {f for f in reads if f.endswith("_metrics_host")}:
        assert getattr(s, field) == "0.0.0.0", f"{name}: Prometheus could not scrape {env_name(field)}"
    for field in MUST_SET & reads:
        assert getattr(s, field), f"{name} reads {env_name(field)}, whose default only works on one machine"


def test_secrets_only_come_from_the_environment():
    for name, svc in compose()["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            field = field_of(key)
            annotation = str(Settings.model_fields[field].annotation) if field else ""
            if "SecretStr" in annotation:
                assert INTERPOLATION.search(str(value)), f"{name}: {key} is written into the file"
    required = {m["name"] for svc in compose()["services"].values() for v in (svc.get("environment") or {}).values()
                for m in INTERPOLATION.finditer(str(v)) if m["op"] == ":?"}
    assert {"POSTGRES_PASSWORD", "DRIFTLINE_UI_SECRET_KEY"} <= required


def test_nats_nodes_run_the_committed_cluster_configs():
    services = compose()["services"]
    nodes = sorted(n for n in services if n.startswith("nats-"))
    assert nodes == sorted(container_configs())
    for node in nodes:
        svc = services[node]
        mount = next(v for v in svc["volumes"] if v.endswith(":/etc/nats/nats.conf:ro"))
        assert (ROOT / mount.split(":")[0]).read_text() == container_configs()[node]
        assert svc["command"] == ["nats-server", "-c", "/etc/nats/nats.conf"]
        assert f":{CONTAINER_PORTS['http']}/healthz" in " ".join(svc["healthcheck"]["test"])
        assert any(v.endswith(":/data") for v in svc["volumes"])  # the JetStream store outlives the container


def test_driftline_services_wait_for_healthy_dependencies():
    for name in [*SERVICES, "train"]:
        deps = container_for(name)["depends_on"]
        for dep in ("nats-1", "nats-2", "nats-3", "postgres", "mlflow"):
            assert deps[dep]["condition"] == "service_healthy", f"{name} starts before {dep} is healthy"


def test_bind_mounts_exist_in_the_repository():
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"


def test_services_sharing_reports_dir_share_a_volume():
    """The monitor and the report builder write reports the approval page serves: one volume for the three."""
    sharing = [name for name in SERVICES if "reports_dir" in settings_read_by(name)]
    assert {"ui"} < set(sharing), sharing
    reports_dir = "/data/reports"  # DRIFTLINE_DATA_DIR=/data
    volumes = {name: {v.split(":")[0] for v in container_for(name).get("volumes", []) if v.split(":")[1] == reports_dir}
               for name in sharing}
    shared = set.intersection(*volumes.values())
    assert shared and shared <= set(compose()["volumes"]), volumes


def test_worker_scales_out():
    assert container_for("worker")["deploy"]["replicas"] >= 2
