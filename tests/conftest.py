"""Shared fixtures: real servers on random ports in temp dirs, and settings that point at them."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from infra.bus import Bus
from infra.db import migrate
from infra.db_roles import ROLES, apply_roles, role_dsn, write_dsn
from infra.nats_auth import OPERATOR, AuthDir
from infra.nats_server import EmbeddedNats
from infra.postgres_server import EmbeddedPostgres
from infra.processes import free_port
from infra.settings import Settings
from infra.streams import ensure_streams
from tests.model_fixtures import mlflow_environment_kept

ARTIFACTS = Path(os.environ.get("DRIFTLINE_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))


@pytest.fixture(autouse=True)
def _mlflow_environment_restored():
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI (set_registry_uri: MLFLOW_REGISTRY_URI) into this process's
    environment, and Settings and `driftline` read MLFLOW_TRACKING_URI as a fallback: a later test (or its
    `driftline` child) would inherit an earlier test's store. Both are put back after every test."""
    with mlflow_environment_kept():
        yield


@pytest.fixture(scope="module", autouse=True)
def _mlflow_environment_restored_per_module():
    """The same after each module: a module-scoped fixture that trains runs before the per-test guard saves the
    environment. (A session-scoped fixture runs before both: it keeps the environment itself, as model_store in
    tests/faults/conftest.py does; a later module's Settings() had trained into its store and found its champion.)"""
    with mlflow_environment_kept():
        yield


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def bus_permissions():
    """Each identity's permissions, derived from the bus map once per session (it imports every service's wiring)."""
    from driftline.bus_permissions import permissions

    return permissions(Settings())


@pytest.fixture
def nats_auth(tmp_path, bus_permissions) -> AuthDir:
    """The credentials `driftline up` writes, where it writes them (the test's data_dir/auth): every service and
    command a test starts with that data directory signs in as itself, with its own permissions."""
    auth = AuthDir(tmp_path / "data" / "auth")
    auth.ensure(bus_permissions)
    auth.write_users(bus_permissions)
    return auth


@pytest.fixture
def nats_server(tmp_path, nats_auth):
    """A fresh nats-server with JetStream on disk and authentication on (as `driftline up` runs it), for one test."""
    server = EmbeddedNats(tmp_path / "nats", port=free_port(), server_name=f"test-{uuid.uuid4().hex[:6]}",
                          auth=nats_auth)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the whole test session; each test gets its own database.

    Its folder is outside pytest's basetemp: pytest resets that tree to 0700 whenever a run starts, which would
    lock out the unprivileged user PostgreSQL runs as (we run as root here).
    """
    folder = Path(tempfile.mkdtemp(prefix="driftline-test-pg-"))
    # With a superuser password every role needs its own over TCP, as under `driftline up`.
    server = EmbeddedPostgres(folder, port=free_port(), database="postgres", password=secrets.token_urlsafe(16))
    server.start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def role_passwords() -> dict[str, str]:
    """One password per database role for the session (roles are the server's; grants are per database)."""
    return {role: secrets.token_urlsafe(16) for role in ROLES}


@pytest.fixture
async def database_url(postgres_server, role_passwords, tmp_path) -> str:
    """A fresh, migrated database for one test, as `driftline up` leaves it: one role per service with only its
    grants, and their DSN files in the test's data directory (tmp_path/data/auth/db, the `settings` fixture's),
    so a service started there (`run_*.main`, `driftline serve`, a CLI command) runs as its own role. The URL
    returned is the admin's: the test's own set-up, checks and attacks."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_server.dsn("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = postgres_server.dsn(name)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await apply_roles(conn, role_passwords)
    finally:
        await conn.close()
    for role, password in role_passwords.items():
        write_dsn(tmp_path / "data" / "auth" / "db", role, role_dsn(dsn, role, password))
    return dsn


@pytest.fixture
def role_url(database_url, role_passwords):
    """The DSN of one service's role on the test's database: role_url("projector")."""
    return lambda role: role_dsn(database_url, role, role_passwords[role])


@pytest.fixture
def settings(tmp_path, nats_server) -> Settings:
    return Settings(data_dir=tmp_path / "data", nats_url=nats_server.url, backoff_s=[0.1, 0.2, 0.5])


async def provision_streams(server: EmbeddedNats, settings: Settings) -> None:
    """What `driftline streams ensure` does, signed in as the operator (services may only check the streams)."""
    b = await Bus.connect(server.url, name="test-provision", credential=server.auth.seed_file(OPERATOR))
    try:
        await ensure_streams(b.js, settings)
    finally:
        await b.close()


@pytest.fixture
def provisioned(nats_server, settings) -> EmbeddedNats:
    """The test's nats-server with the streams provisioned, for tests that use no `bus` of their own."""
    asyncio.run(provision_streams(nats_server, settings))
    return nats_server


@pytest.fixture
async def bus(nats_server, settings):
    """A connected bus with the design's streams provisioned, signed in as the operator (tests play every part)."""
    b = await Bus.connect(nats_server.url, name="test", credential=nats_server.auth.seed_file(OPERATOR))
    await ensure_streams(b.js, settings)
    yield b
    await b.close()


@pytest.fixture
def recorded_spans():
    """Tracing on in this process for one test, every finished span kept in memory (OpenTelemetry's own exporter)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from infra import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.uninstall()
    provider.shutdown()
