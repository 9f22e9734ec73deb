"""Bad input never stops the audit trail: poison chained, stored, counted; later events projected; verify clean."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY

from consumers.audit.rebuild import rebuild
from infra.db import connect_pool
from tests.integration.audit_helpers import incident, project_all, verify_trail
from tests.unit.audit.test_poison import POISON

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url):
    p = await connect_pool(database_url, max_size=4)
    yield p
    await p.close()


def untold_total() -> float:
    return REGISTRY.get_sample_value("driftline_audit_untold_total") or 0.0


async def test_poison_is_chained_and_the_projector_keeps_going(bus, pool, settings):
    before = untold_total()
    await bus.publish_many(incident(n_alerts=2, model="before"))
    poison = [*POISON.values(),
              {**POISON["share_drifted is text"], "id": "nul\u0000id", "correlationid": "c" * 5000},
              {**POISON["share_drifted is text"], "id": "x" * 3000, "type": "t" * 3000}]
    for i, doc in enumerate(poison):
        subject = "driftline.monitoring.drift_report" if i != 5 else "driftline.audit.checkpoint"
        await bus.publish_raw(subject, json.dumps(doc).encode(), {"Nats-Msg-Id": f"poison-{i}"})
    after = incident(n_alerts=2, model="after")
    await bus.publish_many(after)
    await project_all(bus, pool, every=0, settings=settings)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT seq, type, outcome, correlation_id FROM audit_log ORDER BY seq")
    stream = (await bus.js.stream_info("AUDIT")).state.last_seq
    assert [r["seq"] for r in rows] == list(range(1, stream + 1))  # nothing skipped, nothing stuck
    assert rows[-1]["correlation_id"] == after[0].correlation_id  # what came after the poison is projected
    assert [r["outcome"] for r in rows].count("untold") >= 5
    assert untold_total() - before >= 5
    verdict = await verify_trail(bus, pool, settings)
    assert verdict.ok, verdict.text()
    assert [(r.sequence, r.where) for r in verdict.rejected] == [(12, "stream")]  # the checkpoint without data
    rebuilt = await rebuild(bus.js, pool)
    assert rebuilt.equal, rebuilt.differences
