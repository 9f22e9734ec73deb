"""infra/nats/: the committed node configs are what container_configs renders, and nats-server accepts them."""

from __future__ import annotations

import subprocess

import pytest

from infra.nats_server import CONTAINER_TLS_DIR, container_configs, nats_server_binary, render_config
from tests.unit.test_deploy_config import ROOT
from tests.unit.test_deploy_config_topology import run_init

CONFIGS = {**container_configs(), **container_configs(("nats",))}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_committed_config_is_the_rendered_one(name):
    path = ROOT / "infra" / "nats" / f"{name}.conf"
    assert path.read_text() == CONFIGS[name], f"regenerate {path} with infra.nats_server.container_configs"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_nats_server_accepts_the_config(name, tmp_path):
    # The cluster's configs name certificates that compose's init makes at run time: make them here the same way.
    text = (ROOT / "infra" / "nats" / f"{name}.conf").read_text()
    text = text.replace(str(CONTAINER_TLS_DIR), str(run_init(tmp_path) / "nats-tls"))
    (tmp_path / f"{name}.conf").write_text(text)
    done = subprocess.run([nats_server_binary(), "-c", str(tmp_path / f"{name}.conf"), "-t"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "is valid" in done.stdout + done.stderr, done.stderr


def test_cluster_nodes_route_to_each_other_and_sync_every_write():
    nodes = container_configs()
    assert sorted(nodes) == ["nats-1", "nats-2", "nats-3"]
    for name, text in nodes.items():
        assert f"server_name: {name}" in text and "sync_interval: always" in text
        for peer in nodes:
            assert f'"nats://{peer}:6222"' in text


def test_loopback_cluster_uses_the_same_renderer(tmp_path):
    """The fault suite's NatsCluster nodes differ from the containers only in addresses, ports, paths (the users
    include's too: the fault suite's nodes include theirs when it passes `auth`) and TLS (on loopback nobody can
    listen in; the containers' TLS is checked in test_deploy_config_topology)."""
    from infra.nats_server import NatsCluster

    cluster = NatsCluster(tmp_path, size=3)
    node = cluster.nodes["nats-1"]
    text = render_config(host=node.host, port=node.port, store_dir=node.store_dir / "jetstream",
                         sync_interval=node.sync_interval, server_name="nats-1", cluster=node.cluster)
    container = nodes_without_addresses(container_configs()["nats-1"])
    assert nodes_without_addresses(text) == container


def nodes_without_addresses(text: str) -> list[str]:
    skip = ("listen:", "store_dir:", "routes:", "http:", "include ")
    kept, in_tls = [], False
    for line in text.splitlines():
        if line.strip() == "tls {":
            in_tls = True
        elif in_tls:
            in_tls = line.strip() != "}"
        elif not line.strip().startswith(skip):
            kept.append(line)
    return kept
