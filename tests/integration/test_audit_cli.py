"""The `driftline audit` and `driftline users` commands as a person runs them, against real servers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from driftline.cmd_users import ensure_first_admin
from infra.db import connect_pool
from infra.users import authenticate
from schemas import ModelPromoted, ModelRolledBack
from tests.integration.audit_helpers import incident, project_all

pytestmark = pytest.mark.integration


async def driftline(settings, database_url, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DRIFTLINE_NATS_URL=settings.nats_url, DRIFTLINE_DATABASE_URL=database_url,
               DRIFTLINE_DATA_DIR=str(settings.data_dir))
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "driftline", *args], env=env,
                                   capture_output=True, text=True, timeout=120)


@pytest.fixture
async def pool(database_url):
    p = await connect_pool(database_url, max_size=3)
    yield p
    await p.close()


async def test_verify_replay_and_rebuild_commands(bus, pool, settings, database_url):
    events = incident(n_alerts=2)
    other = incident(n_alerts=1, model="other")
    await bus.publish_many(events + other)
    await project_all(bus, pool, every=4, settings=settings)

    ok = await driftline(settings, database_url, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "audit log OK" in ok.stdout and "3 signed checkpoints and 3 anchored heads agree" in ok.stdout

    story = await driftline(settings, database_url, "audit", "replay", "--correlation", events[0].correlation_id,
                            "--json")
    assert story.returncode == 0, story.stderr
    lines = [json.loads(line) for line in story.stdout.splitlines()]
    assert [c["type"] for c in lines] == ["alert.raised", "alert.raised", "approval.requested", "approval.decided",
                                          "action.scheduled", "action.completed"]
    decided = lines[3]
    assert (decided["who"], decided["outcome"], decided["why"]) == ("bob", "approved", "ok")
    table = await driftline(settings, database_url, "audit", "replay")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == ["SEQ", "WHEN", "WHO"]
    assert "checkpoint at sequence 4" in table.stdout and "approved request ap-1 via web" in table.stdout
    later = await driftline(settings, database_url, "audit", "replay", "--since", "2999-01-01T00:00:00Z")
    assert later.returncode == 0 and "no audit events match" in later.stdout
    earlier = await driftline(settings, database_url, "audit", "replay", "--until", "2000-01-01T00:00:00Z")
    assert earlier.returncode == 0 and "no audit events match" in earlier.stdout
    bad_time = await driftline(settings, database_url, "audit", "replay", "--since", "yesterday")
    assert bad_time.returncode == 2 and "ISO time" in bad_time.stderr

    rebuilt = await driftline(settings, database_url, "audit", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "equals the live read models" in rebuilt.stdout and "audit_incidents: 0 differing rows" in rebuilt.stdout

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("UPDATE audit_log SET canonical = replace(canonical, 'bob', 'eve') WHERE seq = 4")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    finally:
        await conn.close()
    bad = await driftline(settings, database_url, "audit", "verify")
    assert bad.returncode == 1
    assert "INVALID at sequence 4" in bad.stderr and "stored event differs" in bad.stderr
    differs = await driftline(settings, database_url, "audit", "rebuild")
    assert differs.returncode == 1 and "DIFFERS" in differs.stderr


async def test_users_add_and_first_admin(settings, database_url):
    assert await ensure_first_admin(database_url) is not None
    assert await ensure_first_admin(database_url) is None  # only when nobody exists yet
    added = await driftline(settings, database_url, "users", "add", "ada", "--role", "approver")
    assert added.returncode == 0, added.stderr
    password = added.stdout.strip().rsplit(" ", 1)[1]
    conn = await asyncpg.connect(database_url)
    try:
        user = await authenticate(conn, "ada", password)
        assert user.role == "approver" and user.must_change_password
    finally:
        await conn.close()
    again = await driftline(settings, database_url, "users", "add", "ada", "--role", "admin")
    assert again.returncode == 2 and "exists already" in again.stderr
    wrong = await driftline(settings, database_url, "users", "add", "zed", "--role", "boss")
    assert wrong.returncode == 2


async def test_which_version_was_champion_at_a_time_across_a_promotion_a_declined_one_and_a_rollback(bus, settings,
                                                                                                     database_url):
    model, t0 = settings.model_name, datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def promoted(version, previous, minutes, promoted=True):
        return ModelPromoted(source="trainer", subject=model, time=t0 + timedelta(minutes=minutes), data=dict(
            model=model, version=version, previous_version=previous, promoted=promoted,
            reason=f"version {version} {'wins' if promoted else 'declined'}"))

    other = ModelPromoted(source="trainer", subject="churn", time=t0 + timedelta(minutes=5), data=dict(
        model="churn", version="7", reason="another model's promotion"))
    rollback = ModelRolledBack(source="agent/executor", subject=model, time=t0 + timedelta(minutes=30), data=dict(
        model=model, from_version="2", to_version="1", reason="verification failed"))
    await bus.publish_many([promoted("1", None, 0), other, promoted("2", "1", 10), promoted("3", "2", 20, False),
                            rollback])

    async def at(minutes: float, *flags: str) -> subprocess.CompletedProcess:
        when = (t0 + timedelta(minutes=minutes)).isoformat()
        return await driftline(settings, database_url, "audit", "champion", "--at", when, *flags)

    history = json.loads((await driftline(settings, database_url, "audit", "champion", "--json")).stdout)
    assert [(m["version"], m["how"]) for m in history] == [("1", "promoted"), ("2", "promoted"), ("1", "rolled back")]
    text = await at(25)  # after the declined version 3: still 2
    assert text.stdout.startswith(f"version 2 of {model} was champion at 2026-03-01T12:25:00+00:00: promoted at")
    before = await at(-1, "--json")
    assert before.returncode == 1 and json.loads(before.stdout)["champion"] is None
    bad = await driftline(settings, database_url, "audit", "champion", "--at", "noon")
    assert bad.returncode == 2 and "--at must be an ISO time" in bad.stderr
