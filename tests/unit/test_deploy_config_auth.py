"""docker-compose.yml's NATS identities (issue 15): each container mounts its own seed and nobody else's, init makes
them with `driftline auth init` (permissions from the bus map), and a node with the include init wrote lets each
container's seed in with exactly its permissions and nobody without one.

init.sh is run for real (into a temporary folder), and a real nats-server runs the committed nats-1 config with it."""

from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import stat
import subprocess
from pathlib import Path

import nats
import pytest

from driftline.bus_permissions import permissions
from driftline.services import SERVICES
from infra.nats_auth import OPERATOR, connect_options, public_key
from infra.nats_server import CONTAINER_TLS_DIR, nats_server_binary
from infra.processes import free_port, wait_for_port
from tests.unit.test_deploy_config import ROOT, compose
from tests.unit.test_deploy_config_topology import mounts, run_init

CREDENTIAL_DIR = "/etc/driftline/nats"
# Who signs in as which identity: each service as itself, the one-shot jobs by their role.
CONTAINERS = {**{name: name for name in SERVICES}, "train": "trainer", "streams": OPERATOR}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return run_init(tmp_path_factory.mktemp("init-auth"))


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_each_container_mounts_its_own_credential_and_signs_in_with_it(container):
    identity = CONTAINERS[container]
    svc = compose()["services"][container]
    assert svc["environment"]["DRIFTLINE_NATS_CREDENTIAL"] == f"{CREDENTIAL_DIR}/{identity}.nk"
    assert mounts(container)[CREDENTIAL_DIR] == f"nats-cred-{identity}"
    assert svc["volumes"][[v.split(":")[1] for v in svc["volumes"]].index(CREDENTIAL_DIR)].endswith(":ro")


def test_no_credential_volume_is_shared_and_only_init_holds_every_seed():
    holders: dict[str, list[str]] = {}
    for name in compose()["services"]:
        for volume in mounts(name).values():
            if volume.startswith("nats-cred-") or volume == "nats-auth":
                holders.setdefault(volume, []).append(name)
    assert holders.pop("nats-auth") == ["init"]
    owners = {f"nats-cred-{identity}": container for container, identity in CONTAINERS.items()}
    for volume, names in holders.items():
        # the auditor's: filled by init for tools outside (docs/operations.md); no container signs in with it
        expected = ["init", owners[volume]] if volume in owners else ["init"]
        assert sorted(names) == sorted(expected), (volume, names)
    assert holders[f"nats-cred-{OPERATOR}"] == ["init", "streams"] and "nats-cred-auditor" in holders


def test_every_service_waits_for_the_operator_to_provision_the_streams():
    for name in [*SERVICES, "train"]:
        assert compose()["services"][name]["depends_on"]["streams"]["condition"] == "service_completed_successfully"
    assert compose()["services"]["streams"]["command"] == ["driftline", "streams", "ensure"]


def test_nodes_read_the_users_include_init_writes():
    for node in ("nats-1", "nats-2", "nats-3"):
        assert mounts(node)["/etc/nats/auth"] == "nats-users"
        assert 'include "auth/nats-users.conf"' in (ROOT / f"infra/nats/{node}.conf").read_text()
    assert mounts("init")["/run/driftline/nats-users"] == "nats-users"


def test_init_gives_each_credential_folder_its_one_seed(made):
    users = (made / "nats-users/nats-users.conf").read_text()
    assert "seed" not in users.lower() and not re.search(r"\bSU[A-Z2-7]{20,}", users)  # public keys only
    folders = sorted(p.name for p in (made / "creds").iterdir())
    assert folders == sorted(set(CONTAINERS.values()) | {"auditor"})
    for folder in folders:
        files = list((made / "creds" / folder).iterdir())
        assert [f.name for f in files] == [f"{folder}.nk"]
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert files[0].read_bytes() == (made / "auth" / f"{folder}.nk").read_bytes()
        assert f'"{public_key(files[0].read_bytes())}"' in users


def test_init_run_again_keeps_every_seed(made):
    before = {p.name: p.read_bytes() for p in (made / "auth").glob("*.nk")}
    run_init(made)
    assert {p.name: p.read_bytes() for p in (made / "auth").glob("*.nk")} == before


def test_a_node_with_the_include_admits_each_seed_with_its_own_permissions(made, tmp_path):
    """The committed nats-1 config with init's certificates and include, on free ports (its peers never answer):
    nobody signs in without a seed; the gateway's may publish a prediction but not schedule an action, the
    trainer's may not purge a stream, the auditor's may read AUDIT but not write a checkpoint."""
    port = free_port()
    text = (ROOT / "infra/nats/nats-1.conf").read_text().replace(str(CONTAINER_TLS_DIR), str(made / "nats-tls"))
    for old, new in [("0.0.0.0:4222", f"127.0.0.1:{port}"), ("0.0.0.0:8222", f"127.0.0.1:{free_port()}"),
                     ("0.0.0.0:6222", f"127.0.0.1:{free_port()}"), ('"/data/jetstream"', f'"{tmp_path / "js"}"')]:
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "nats-1.conf").write_text(text)
    shutil.copytree(made / "nats-users", tmp_path / "auth")  # compose mounts the nats-users volume there
    server = subprocess.Popen([nats_server_binary(), "-c", str(tmp_path / "nats-1.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout=30, proc=server)
        tls = ssl.create_default_context(cafile=str(made / "trust/nats-ca.pem"))
        asyncio.run(_probe(f"tls://127.0.0.1:{port}", made / "creds", tls))
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _probe(url: str, creds: Path, tls: ssl.SSLContext) -> None:
    async def quiet(exc):
        pass

    with pytest.raises(Exception, match="(?i)authorization|no servers"):  # no credential: refused at connect
        await nats.connect(url, tls=tls, allow_reconnect=False, connect_timeout=3, max_reconnect_attempts=0,
                           error_cb=quiet)
    for identity, allowed, refused in [
        ("gateway", "driftline.prediction.made", "driftline.action.scheduled"),
        ("trainer", "driftline.model.trained", "$JS.API.STREAM.PURGE.REQUESTS"),
        ("auditor", "$JS.API.DIRECT.GET.AUDIT", "driftline.audit.checkpoint"),
    ]:
        assert allowed in permissions()[identity].publish and refused not in permissions()[identity].publish
        errors: list[Exception] = []

        async def seen(exc, errors=errors):
            errors.append(exc)

        nc = await nats.connect(url, tls=tls, allow_reconnect=False, connect_timeout=3, error_cb=seen,
                                **connect_options(creds / identity / f"{identity}.nk"))
        try:
            await nc.publish(allowed, b"{}")
            await nc.flush(timeout=3)
            await asyncio.sleep(0.3)
            assert not errors, (identity, allowed, errors)
            await nc.publish(refused, b"{}")
            await nc.flush(timeout=3)
            await asyncio.sleep(0.3)
            assert any("permissions violation" in str(e).lower() for e in errors), (identity, refused, errors)
        finally:
            await nc.close()
