"""Attacks on the audit trail and on what feeds it, against real servers (nats-server, PostgreSQL with one role per
service, the gateway under uvicorn, the CLI as a process): forged checkpoints, a full rewrite without the key, a
poison pill, rows written and triggers disabled with a service's own database role, report names that are paths,
bodies far over their bound. Each is refused; each is a row of the printed table (tests/security/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.audit import signing
from consumers.reports.builder import ReportBuilder
from consumers.reports.service import AutoReports
from infra.consumer import Rejected
from infra.db import connect_pool
from infra.keys import Signer
from infra.stream_reader import read_stream
from schemas import AlertRaised
from schemas.streams import AUDIT
from tests.integration.audit_helpers import incident, project_all, verify_trail
from tests.integration.test_audit_signed import bob_to_mallory, forged, rewrite, trail
from tests.integration.test_body_limits import ROUTES, gateway, send
from tests.unit.audit.test_poison import POISON

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SERVICE_ROLES = ("projector", "monitor", "notifier", "agent", "ui", "cli", "auditor")


@pytest.fixture
async def pool(role_url):
    p = await connect_pool(role_url("projector"), max_size=4)  # the projector's own role, as in production
    yield p
    await p.close()


async def test_forged_checkpoints_are_rejected_and_trusted_for_nothing(bus, pool, settings, attacks):
    await trail(bus, pool, settings)
    real = json.loads([m async for m in read_stream(bus.js, AUDIT.name)][12].data)["data"]
    mallory = Signer(Ed25519PrivateKey.generate())
    lies = {
        "forged checkpoint signed with the attacker's own key": forged(
            signing.sign(mallory, 12, "1" * 64, 12).model_dump(), "a-own-key"),
        "forged checkpoint: the real signature over another head": forged({**real, "head_hash": "0" * 64}, "a-alt"),
        "forged checkpoint naming the projector's key id, signed by another": forged(
            {**signing.sign(mallory, 11, "2" * 64, 11).model_dump(), "key_id": real["key_id"]}, "a-keyid"),
        "malformed checkpoint (no data) to crash verify": forged(None, "a-none"),
    }
    await bus.publish_raw_many(list(lies.values()))
    await project_all(bus, pool, every=5, settings=settings)
    verdict = await verify_trail(bus, pool, settings)
    rejected = {r.sequence: r.reason for r in verdict.rejected}
    for sequence, attack in enumerate(lies, start=15):
        reason = rejected.get(sequence)
        attacks.record(attack, "verify rejects it (names its sequence), trusts nothing of it, does not crash",
                       f"seq {sequence} rejected: {reason}; verify ok={verdict.ok}",
                       reason is not None and verdict.ok)


async def test_a_full_rewrite_without_the_key_is_caught(bus, pool, settings, database_url, attacks):
    await trail(bus, pool, settings)
    await rewrite(bus, settings, database_url, bob_to_mallory)  # new stream, re-hashed table, triggers off as owner
    verdict = await verify_trail(bus, pool, settings)
    attacks.record("full rewrite (bob's approval -> mallory) with bus and database-owner access, no checkpoint key",
                   "audit verify INVALID, naming the first rewritten sequence",
                   f"ok={verdict.ok}, bad sequence {verdict.bad_seq}: {verdict.problem[:70]}",
                   not verdict.ok and verdict.bad_seq == 10 and "rewritten" in verdict.problem)


async def test_a_poison_pill_does_not_stop_the_projector(bus, pool, settings, attacks):
    await bus.publish_raw("driftline.monitoring.drift_report", json.dumps(POISON["share_drifted is text"]).encode(),
                          {"Nats-Msg-Id": "pill-1"})
    after = incident(n_alerts=2, model="after")
    await bus.publish_many(after)
    await asyncio.wait_for(project_all(bus, pool, every=0, settings=settings), 60)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT seq, outcome, correlation_id FROM audit_log ORDER BY seq")
    verdict = await verify_trail(bus, pool, settings)
    attacks.record('projector poison pill: a drift report with "share_drifted": "x"',
                   "chained and stored as untold; the events after it projected; verify ok",
                   f"{len(rows)} rows, first outcome {rows[0]['outcome']!r}, verify ok={verdict.ok}",
                   rows[0]["outcome"] == "untold" and rows[-1]["correlation_id"] == after[0].correlation_id
                   and len(rows) == 1 + len(after) and verdict.ok)


async def refused_as(role_url, role: str, sql: str) -> str:
    """What PostgreSQL answers `sql` run with a service's own role ('' if it was accepted)."""
    conn = await asyncpg.connect(role_url(role))
    try:
        await conn.execute(sql)
        return ""
    except asyncpg.PostgresError as exc:
        return str(exc)
    finally:
        await conn.close()


async def test_no_service_role_can_switch_off_the_audit_triggers(role_url, attacks):
    for role in SERVICE_ROLES:
        said = await refused_as(role_url, role, "ALTER TABLE audit_log DISABLE TRIGGER USER")
        attacks.record(f"disable the audit log's insert-only triggers as driftline_{role}",
                       "refused: only the tables' owner (no service's role) may", said or "accepted",
                       "must be owner" in said)
    said = await refused_as(role_url, "projector", "UPDATE audit_log SET actor = 'mallory'")
    attacks.record("rewrite an audit row as driftline_projector (the one role that inserts)",
                   "refused: the projector may only insert", said or "accepted", "permission denied" in said)


async def test_no_decision_row_written_with_a_role_that_is_not_the_approvals_owners(role_url, attacks):
    row = ("INSERT INTO approvals (approval_id, request_event_id, correlation_id, model, action, action_hash, "
           "requested_by, summary, requested_at, expires_at, status, decided_by, decided_at, decision_via) VALUES "
           "('ap-forged', 'e', 'c', 'm', '{}', 'h', 'agent', 's', now(), now() + interval '1 hour', 'approved', "
           "'bob', now(), 'web')")
    for role in ("monitor", "notifier", "projector", "auditor"):
        said = await refused_as(role_url, role, row)
        attacks.record(f"decision row written into approvals as driftline_{role}",
                       "refused: only the approvals owner's code (agent, ui, cli) writes approvals",
                       said or "accepted", "permission denied" in said)


def driftline(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DRIFTLINE_NATS_URL": settings.nats_url, "DRIFTLINE_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "driftline", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


async def test_report_names_that_are_paths_are_refused(settings, tmp_path, attacks):
    target = tmp_path / "owned.pdf"
    done = await asyncio.to_thread(driftline, settings, "report", "incident", "../../../" + str(target)[1:-4],
                                   "-o", str(tmp_path / "r.pdf"))
    attacks.record("path traversal in a report name (driftline report incident ../../..)",
                   "usage error (exit 2) naming the id; no file written",
                   f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1][:60]}",
                   done.returncode == 2 and "not a safe name" in done.stderr and not target.exists())
    local = settings.model_copy(update={"reports_log_mlflow": False})
    alert = AlertRaised(id="../../../tmp/owned-by-alert", source="mallory", subject="m", data=dict(
        kind="data_drift", model="m", fingerprint="f", statistic="psi", value=1, threshold=0.5, detector="psi"))
    try:
        await AutoReports(local, ReportBuilder(local, js=None)).handle([SimpleNamespace(event=alert)])
        observed = "accepted"
    except Rejected as exc:
        observed = f"dead-lettered: {str(exc)[:60]}"
    attacks.record("path traversal in an alert id the report builder turns into a file name",
                   "the event is dead-lettered; no file outside the reports folder",
                   observed, observed.startswith("dead-lettered") and not list(Path("/tmp").glob("owned-by-alert*")))


async def test_bodies_far_over_the_bound_are_refused_unread(settings, bus, attacks):
    async with gateway(settings, bus) as port:
        for path, headers in ROUTES.items():
            status, sent, _ = await send(port, path, headers, declared=None, chunks=1024)  # 16 MiB, chunked
            attacks.record(f"oversized body (16 MiB, chunked) to {path}",
                           "413 before more than the bound (64 KiB) is read; the server goes on",
                           f"{status} after {sent // 1024} KiB written", status == 413 and sent < 2 * 1024**2)
