"""`driftline up` as a user runs it: ready quickly, reuses its data dir, and leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from infra.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]


def up_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(
        DRIFTLINE_DATA_DIR=str(data_dir),
        DRIFTLINE_NATS_PORT=str(free_port()),
        DRIFTLINE_POSTGRES_PORT=str(free_port()),
        DRIFTLINE_MLFLOW_UI_PORT=str(free_port()),
        DRIFTLINE_GATEWAY_PORT=str(free_port()),
        DRIFTLINE_UI_PORT=str(free_port()),
        DRIFTLINE_MONITOR_METRICS_PORT=str(free_port()),
        DRIFTLINE_WORKER_METRICS_PORT=str(free_port()),
        DRIFTLINE_AGENT_METRICS_PORT=str(free_port()),
        DRIFTLINE_PROJECTOR_METRICS_PORT=str(free_port()),
        DRIFTLINE_PROMETHEUS_PORT=str(free_port()),
        DRIFTLINE_ALERTMANAGER_PORT=str(free_port()),
    )
    return env


def start_up(env: dict[str, str]) -> tuple[subprocess.Popen, list[str], float]:
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "driftline", "up"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith("Press Ctrl-C"):
            return proc, lines, time.monotonic() - started
    raise AssertionError("driftline up exited before it was ready:\n" + "\n".join(lines))


def stop_up(proc: subprocess.Popen) -> list[psutil.Process]:
    """Ctrl-C, then return every descendant that is still alive."""
    family = psutil.Process(proc.pid).children(recursive=True)
    assert family, "driftline up started no child process"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=90)
    _, alive = psutil.wait_procs(family, timeout=10)
    return alive


def read_until(proc: subprocess.Popen, lines: list[str], last: str, timeout: float) -> list[str]:
    """Banner lines up to (and with) the first one starting with `last`."""
    deadline = time.monotonic() + timeout
    found: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        found.append(line.rstrip())
        if line.strip().startswith(last):
            return found
    raise AssertionError(f"no line starting with {last!r} within {timeout:.0f}s:\n" + "\n".join(lines))


def try_the_banner(proc: subprocess.Popen, lines: list[str], env: dict[str, str]) -> None:
    """The three commands the banner ends with, once the first model is trained, do what they say."""
    block = read_until(proc, lines, "sign in as admin", 300)
    curl = shlex.split(next(line for line in block if line.strip().startswith("curl")))
    body = json.loads(curl[curl.index("-d") + 1])
    assert len(body["features"]) == 30 and all(isinstance(v, float | int) for v in body["features"].values())
    reply = httpx.post(curl[2], json=body, timeout=30)
    assert reply.status_code == 200 and reply.json()["model_version"] == "1", reply.text
    simulate = shlex.split(next(line for line in block if line.strip().startswith("driftline simulate")))
    column = simulate[simulate.index("--shift") + 1].rsplit("=", 1)[0]
    assert column in body["features"] and simulate[-2:] == ["--data-dir", env["DRIFTLINE_DATA_DIR"]]
    assert f"http://127.0.0.1:{env['DRIFTLINE_UI_PORT']}" in "\n".join(block)
    assert any("one-time password" in line for line in block)


def roles_in_use(data_dir: Path, env: dict[str, str], printed: str) -> None:
    """Every service that touches PostgreSQL is connected as its own role; the terminal's commands use theirs."""
    import asyncio

    import asyncpg

    from infra.db_roles import ROLES, read_dsn

    auth = data_dir / "auth" / "db"
    assert {p.stem for p in auth.glob("*.dsn")} == {*ROLES, "admin"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in auth.glob("*.dsn"))  # owner only
    admin = read_dsn(auth, "admin")
    assert admin.split("@")[0].split(":")[-1] not in printed  # the superuser's password is never printed

    async def connected() -> set[str]:
        conn = await asyncpg.connect(admin)
        try:
            for _ in range(120):  # services connect as they start
                users = {r["usename"] for r in await conn.fetch(
                    "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'driftline'")}
                if users >= {"driftline_projector", "driftline_agent", "driftline_ui", "driftline_monitor",
                             "driftline_notifier"}:
                    return users
                await asyncio.sleep(0.5)
            return users
        finally:
            await conn.close()

    users = asyncio.run(connected())
    assert users - {"postgres"} <= {f"driftline_{r}" for r in ROLES}, users
    assert {"driftline_projector", "driftline_agent", "driftline_ui", "driftline_monitor",
            "driftline_notifier"} <= users, users
    verify = subprocess.run([sys.executable, "-m", "driftline", "audit", "verify", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stderr


def test_up_is_ready_fast_reuses_its_data_dir_and_stops_cleanly(tmp_path):
    env = up_env(tmp_path / "data")
    proc, lines, seconds = start_up(env)
    try:
        text = "\n".join(lines)
        print(text)
        assert seconds < 60, f"ready after {seconds:.1f}s"
        for part in ("nats", "postgres", "mlflow ui", "prometheus", "alertmanager", "traces"):
            assert any(line.strip().startswith(part) for line in lines), f"{part} missing from:\n{text}"
        assert f"127.0.0.1:{env['DRIFTLINE_NATS_PORT']}" in text
        assert "starts on your first visit" in text  # the MLflow UI holds no memory until someone opens it
        assert not any("mlflow" in " ".join(p.cmdline()) for p in psutil.Process(proc.pid).children(recursive=True))
        try_the_banner(proc, lines, env)
        health = httpx.get(f"http://127.0.0.1:{env['DRIFTLINE_MLFLOW_UI_PORT']}/health", timeout=240)
        assert health.status_code == 200  # started by this first visit, reached through up's port
        mlflow = [p for p in psutil.Process(proc.pid).children(recursive=True) if "mlflow" in " ".join(p.cmdline())]
        assert len(mlflow) == 1, [p.cmdline() for p in mlflow]  # one process: no CLI parent, no job runner
        auditor = check_the_bus_is_authenticated(lines, env)
        roles_in_use(tmp_path / "data", env, text)
    finally:
        alive = stop_up(proc)
    assert proc.returncode == 0
    assert alive == [], f"left running: {[p.info if hasattr(p, 'info') else p for p in alive]}"
    assert (tmp_path / "data" / "postgres" / "pgdata" / "PG_VERSION").exists()
    seed_before = auditor.read_bytes()

    # A second start on the same data dir reuses it: the database and the streams are already there.
    proc, lines, seconds = start_up(env)
    try:
        assert not any("created stream" in line for line in lines)
        assert not any("applied migration" in line for line in lines)
        assert auditor.read_bytes() == seed_before  # credentials are kept across starts
    finally:
        alive = stop_up(proc)
    assert alive == [] and proc.returncode == 0


def check_the_bus_is_authenticated(lines: list[str], env: dict[str, str]) -> Path:
    """`up` prints the auditor credential; its embedded NATS refuses a client without a credential, and the auditor
    reads AUDIT and nothing else. Returns the auditor's seed file."""
    import stat

    printed = next((line for line in lines if line.strip().startswith("auditor credential")), None)
    assert printed, "driftline up did not print the auditor credential:\n" + "\n".join(lines)
    seed = Path(printed.strip().removeprefix("auditor credential").split()[0])
    assert seed.exists() and stat.S_IMODE(seed.stat().st_mode) == 0o600, printed
    asyncio.run(_probe(f"nats://127.0.0.1:{env['DRIFTLINE_NATS_PORT']}", seed))
    return seed


async def _probe(url: str, auditor_seed: Path) -> None:
    import nats

    from infra.nats_auth import connect_options

    async def quiet(exc):
        pass

    with pytest.raises(Exception, match="(?i)authorization|no servers"):
        await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3, error_cb=quiet)
    errors: list[Exception] = []

    async def seen(exc):
        errors.append(exc)

    nc = await nats.connect(url, allow_reconnect=False, connect_timeout=3, error_cb=seen,
                            **connect_options(auditor_seed))
    try:
        js = nc.jetstream(timeout=5)
        assert (await js.stream_info("AUDIT")).config.name == "AUDIT"
        with pytest.raises(Exception):  # noqa: B017 (a timeout or a permissions error: either is a refusal)
            await js.stream_info("REQUESTS")
        await nc.publish("driftline.action.scheduled", b"{}")
        await nc.flush(timeout=3)
        await asyncio.sleep(0.3)
        assert any("permissions violation" in str(e).lower() for e in errors), errors
    finally:
        await nc.close()
