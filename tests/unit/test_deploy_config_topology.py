"""docker-compose.yml as scripts/topology.sh runs it: readable by docker-compose 1.29 and Compose v2 alike, TLS on
the bus with certificates that init makes at run time, a stand-in for every public image, and scripts that parse.

init.sh is run for real here (openssl into a temporary folder), and nats-server checks a node config that points at
what it made; the topology itself runs in tests/topology.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from driftline.services import SERVICES
from infra.nats_server import CONTAINER_TLS_DIR, container_configs, nats_server_binary
from tests.unit.test_deploy_config import ROOT, compose, container_for

INIT = ROOT / "infra/compose/init.sh"
STANDINS = ROOT / "infra/standins"
DRIFTLINE = [*SERVICES, "train"]
SAMPLE_ENV = {"POSTGRES_PASSWORD": "p", "DRIFTLINE_UI_SECRET_KEY": "k", "DRIFTLINE_API_KEYS": '["a"]',
              "DRIFTLINE_ALERTMANAGER_TOKEN": "t", "DRIFTLINE_WEBHOOK_SECRET": "w"}


def mounts(service: str) -> dict[str, str]:
    """container path -> volume (or host path) of a service."""
    return {v.split(":")[1]: v.split(":")[0] for v in compose()["services"][service].get("volumes", [])}


# --- one file for both Compose implementations ---------------------------------------------------------------

def test_no_key_that_docker_compose_1_29_refuses():
    """Top-level `name` and environment-sourced secrets are Compose v2 only; scripts/topology.sh runs 1.29."""
    doc = compose()
    assert "name" not in doc and "secrets" not in doc and "version" not in doc
    text = (ROOT / "docker-compose.yml").read_text()
    for podman_only in ("x-podman", "userns_mode", ":Z", ":z"):
        assert podman_only not in text


def test_docker_compose_1_29_reads_the_file_and_the_smoke_layer(tmp_path):
    """Debian's docker-compose (what scripts/topology.sh runs) validates both files without a daemon."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose (Debian package) is missing: bash scripts/install.sh --test installs it"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLINE_", "POSTGRES_"))}, **SAMPLE_ENV}
    done = subprocess.run([binary, "-p", "driftline", "-f", str(ROOT / "docker-compose.yml"), "-f",
                           str(ROOT / "infra/compose/smoke.yml"), "config", "-q"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_smoke_layer_only_sets_environment_of_existing_services():
    layer = yaml.safe_load((ROOT / "infra/compose/smoke.yml").read_text())
    for name, svc in layer["services"].items():
        assert name in compose()["services"] and set(svc) == {"environment"}, name
    policy = layer["services"]["agent"]["environment"]["DRIFTLINE_AGENT_POLICY_FILE"]
    assert (ROOT / policy.removeprefix("/app/")).exists()  # the image has the repository's infra/ under /app


def test_smoke_policy_is_the_shipped_one_with_a_retrain_for_every_drift():
    import runpy

    from agent.policy import load_policy

    committed = (ROOT / "infra/compose/smoke-policy.yaml").read_text()
    expected = runpy.run_path(str(ROOT / "scripts/topology/smoke_policy.py"))["render"]()
    assert committed == expected, ("agent/policy.yaml changed: python scripts/topology/smoke_policy.py > "
                                   "infra/compose/smoke-policy.yaml")
    policy = load_policy(ROOT / "infra/compose/smoke-policy.yaml")  # the agent would refuse an invalid one
    assert all(any(a.kind == "retrain_model" for a in r["default"]) for r in policy.responses.values())


# --- TLS on the bus -------------------------------------------------------------------------------------------

def test_every_client_speaks_tls_and_trusts_the_ca_that_init_makes():
    trust_volume = next(v for path, v in mounts("init").items() if path.endswith("/trust"))
    for name in DRIFTLINE:
        env = container_for(name)["environment"]
        assert urlparse(env["DRIFTLINE_NATS_URL"]).scheme == "tls", f"{name} talks to NATS in clear text"
        bundle = Path(env["SSL_CERT_FILE"])
        assert mounts(name).get(str(bundle.parent)) == trust_volume, f"{name} does not mount the CA bundle"
        assert bundle.name in INIT.read_text()


def test_nodes_mount_the_certificates_their_config_names_and_start_after_init():
    tls_volume = next(v for path, v in mounts("init").items() if path.endswith("/nats-tls"))
    for name, text in container_configs().items():
        assert mounts(name)[str(CONTAINER_TLS_DIR)] == tls_volume
        for file in re.findall(r'(?:cert|key|ca)_file: "([^"]+)"', text):
            assert Path(file).parent == CONTAINER_TLS_DIR and Path(file).name in INIT.read_text()
        assert text.count("tls {") == 2, f"{name}: TLS for clients and for routes"
        assert compose()["services"][name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    # The CA's key is mounted by init alone.
    ca_volume = next(v for path, v in mounts("init").items() if path.endswith("/ca"))
    assert [n for n in compose()["services"] if ca_volume in mounts(n).values()] == ["init"]


def run_init(root: Path, token: str = "am-token") -> Path:
    """infra/compose/init.sh into `root` (its volumes as folders), as compose's init container runs it."""
    for target in mounts("init"):  # the volumes compose mounts there, as empty folders
        (root / target.removeprefix("/run/driftline/")).mkdir(parents=True, exist_ok=True)
    # `python -m driftline auth init` from this worktree (cwd), with this interpreter, as the image's python would
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    done = subprocess.run(["sh", str(INIT)], env={**env, "INIT_ROOT": str(root), "PYTHON": sys.executable,
                                                  "DRIFTLINE_ALERTMANAGER_TOKEN": token, "DRIFTLINE_DATA_DIR": str(root)},
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return run_init(tmp_path_factory.mktemp("init"))


def openssl(*args: str) -> str:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_init_makes_a_node_certificate_for_every_name_clients_and_peers_dial(made):
    assert "OK" in openssl("verify", "-CAfile", str(made / "trust/nats-ca.pem"), str(made / "nats-tls/server.pem"))
    text = openssl("x509", "-in", str(made / "nats-tls/server.pem"), "-noout", "-text")
    for name in ["nats", *container_configs()]:
        assert f"DNS:{name}" in text, f"a client or a route dialling {name} would refuse the certificate"
    assert "TLS Web Server Authentication" in text and "TLS Web Client Authentication" in text  # routes verify both
    assert (made / "trust/ca-bundle.pem").read_text().endswith((made / "ca/ca.pem").read_text())
    assert (made / "alertmanager/alertmanager_token").read_text() == "am-token"
    assert not (made / "nats-tls/ca-key.pem").exists() and oct((made / "nats-tls/server-key.pem").stat().st_mode)[-3:] == "600"


def test_init_keeps_valid_certificates_when_it_runs_again(made):
    before = (made / "nats-tls/server.pem").read_bytes()
    run_init(made, token="rotated")
    assert (made / "nats-tls/server.pem").read_bytes() == before  # a restart must not re-key the running cluster
    assert (made / "alertmanager/alertmanager_token").read_text() == "rotated"  # the token follows the environment


def test_nats_server_accepts_a_node_config_with_the_certificates_init_made(made, tmp_path):
    text = container_configs()["nats-1"].replace(str(CONTAINER_TLS_DIR), str(made / "nats-tls"))
    text = text.replace('"/data/jetstream"', f'"{tmp_path / "js"}"')
    (tmp_path / "nats-1.conf").write_text(text)
    shutil.copytree(made / "nats-users", tmp_path / "auth")  # compose mounts the nats-users volume at /etc/nats/auth
    done = subprocess.run([nats_server_binary(), "-c", str(tmp_path / "nats-1.conf"), "-t"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and "is valid" in done.stdout + done.stderr, done.stderr


def test_services_that_sign_or_check_decisions_share_one_key():
    """The page signs people's decisions, the executor checks them: one key pair, or every approval is refused."""
    from tests.unit.test_deploy_config import settings_read_by
    from tests.unit.test_deploy_config_pipeline import render_env, render_host

    holders = [n for n in SERVICES if "approvals_signing_key" in (settings_read_by(n) or set())]
    assert {"ui", "agent"} <= set(holders)
    keys_dir = "/data/keys"  # Settings.keys_dir with DRIFTLINE_DATA_DIR=/data
    volumes = {mounts(n).get(keys_dir) for n in holders}
    assert len(volumes) == 1 and None not in volumes and volumes <= set(compose()["volumes"]), volumes
    for name in holders:  # Render has no shared disk between services: the key is asked for on each
        assert render_env(render_host(name))["DRIFTLINE_APPROVALS_SIGNING_KEY"] == {
            "key": "DRIFTLINE_APPROVALS_SIGNING_KEY", "sync": False}


# --- images: a stand-in for each public one -------------------------------------------------------------------

def standins() -> dict[str, str]:
    rows = [line.split() for line in (STANDINS / "images.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    return dict(rows)


def test_every_public_image_has_a_stand_in_built_from_the_debian_base():
    app = compose()["services"]["gateway"]["image"]
    named = {svc["image"] for svc in compose()["services"].values() if svc.get("image") and svc["image"] != app}
    named |= set(re.findall(r"^FROM (\S+)", (ROOT / "infra/Dockerfile").read_text(), re.M))
    assert named <= set(standins()), f"no stand-in for {named - set(standins())} in infra/standins/images.txt"
    order = list(standins())
    for i, (tag, folder) in enumerate(standins().items()):
        base = re.search(r"^FROM (\S+)", (STANDINS / folder / "Dockerfile").read_text(), re.M)[1]
        assert base == "driftline-base:bookworm" or base in order[:i], f"{tag} builds on {base}, built later or never"


def test_scripts_parse_and_explain_themselves():
    scripts = [ROOT / "scripts/topology.sh", *sorted((ROOT / "scripts/topology").glob("*.sh")), INIT,
               ROOT / "infra/render/ui_with_writers.sh", ROOT / "infra/standins/postgres/docker-entrypoint.sh"]
    for script in scripts:
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{script}: {done.stderr}"
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck (Debian package) is missing: bash scripts/install.sh --test installs it"
    done = subprocess.run([shellcheck, "-x", "-S", "warning", *map(str, scripts)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout
    usage = subprocess.run(["bash", str(ROOT / "scripts/topology.sh"), "--help"], capture_output=True, text=True,
                           timeout=30)
    assert usage.returncode == 0
    for command in ("up", "test", "down"):
        assert re.search(rf"^  {command}\s", usage.stdout, re.M), f"--help does not explain `{command}`"
