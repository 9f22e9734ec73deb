"""Fault-suite fixtures: a 3-node JetStream cluster on loopback with the design's streams at 3 replicas."""

from __future__ import annotations

import asyncio

import pytest

from infra.bus import Bus
from infra.nats_server import NatsCluster
from infra.settings import Settings
from infra.streams import ensure_streams
from tests.faults.harness import wait_for_jetstream

# Clients notice a frozen or vanished server within ~3 s instead of nats-py's default 4 minutes.
FAST_PING = {"ping_interval": 1, "max_outstanding_pings": 3}


@pytest.fixture
def cluster(tmp_path, nats_auth):
    nodes = NatsCluster(tmp_path / "cluster", size=3, auth=nats_auth)
    nodes.start()
    yield nodes
    nodes.stop()


@pytest.fixture
def cluster_settings(tmp_path, cluster) -> Settings:
    return Settings(data_dir=tmp_path / "data", nats_url=",".join(cluster.urls), stream_replicas=3)


@pytest.fixture
async def cluster_bus(cluster, cluster_settings):
    """A bus on the cluster once JetStream has a meta leader and the streams exist at 3 replicas."""
    bus = await Bus.connect(cluster.urls, name="faults", credential=cluster_settings.auth_dir / "operator.nk",
                            **FAST_PING)
    await wait_for_jetstream(bus)
    async with asyncio.timeout(60):
        while True:
            try:
                await ensure_streams(bus.js, cluster_settings)
                break
            except Exception:  # the meta group is still settling its peers
                await asyncio.sleep(0.3)
    yield bus
    await bus.close()


@pytest.fixture(scope="session")
def model_store(tmp_path_factory) -> str:
    """One MLflow store with a registered champion, shared by the service tests (registering costs seconds)."""
    from tests.model_fixtures import mlflow_environment_kept, register_simple_model

    registry = Settings(data_dir=tmp_path_factory.mktemp("mlflow-store"))
    # A session fixture is set up before any module's or test's guard saves the environment: it keeps it itself,
    # or every later module's Settings() would train into this store and find its champion.
    with mlflow_environment_kept():
        register_simple_model(registry)
    return registry.resolved_mlflow_uri


@pytest.fixture
def model_settings(settings, model_store) -> Settings:
    """The test's settings, pointed at the shared store that holds a champion."""
    return settings.model_copy(update={"mlflow_tracking_uri": model_store})
