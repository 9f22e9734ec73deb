"""Outcomes verified, against a real nats-server and PostgreSQL with the shipped policy: a version put into service
while an incident is open is judged on the traffic it serves; one that cannot help fails its verification, and the
incident escalates to the policy's next step (a rollback to the version before, through a person)."""

from __future__ import annotations

import pytest

from schemas import (
    ActionVerified,
    AlertCleared,
    ApprovalRequested,
    DiagnosisMade,
    ModelPromoted,
)
from tests.integration.agent_helpers import Watch, running_agent
from tests.unit.agent.alerts import alert
from tests.unit.agent.evidence_fixtures import IMPORTANT, harmful_window, report, window_event

pytestmark = pytest.mark.integration
MODEL = "driftline-classifier"


@pytest.fixture
async def watch(bus):
    w = await Watch().start(bus)
    yield w
    await w.stop()


def promoted(version: str, previous: str, cause) -> ModelPromoted:
    """A version put into service by hand while the incident is open (a deploy: no action of the agent's)."""
    return cause.caused(ModelPromoted, source="trainer", subject=MODEL, data=dict(
        model=MODEL, version=version, previous_version=previous, reason="deployed by hand"))


def retired(raised) -> AlertCleared:
    """The monitor retires the old version's alerts when the reference is replaced: not the condition ending."""
    return raised.caused(AlertCleared, source="consumers/monitor", subject=MODEL, data=dict(
        kind=raised.data.kind, model=MODEL, fingerprint=raised.data.fingerprint, alert_id=raised.id,
        summary="reference replaced by version 2", reason="model_replaced"))


async def incident_opened(bus, watch) -> tuple:
    """A harmful drift on version 1 with labels confirming the drop: the incident and its retrain request."""
    raised = alert(features=tuple(IMPORTANT))
    await bus.publish_many([harmful_window(), window_event(report(drifted=IMPORTANT, positive_rate=0.72,
                                                                  counts=(300, 60, 60, 180), minutes=0)), raised])
    [asked] = await watch.wait(ApprovalRequested, lambda e: e.correlation_id == raised.id, timeout=30)
    assert asked.data.action.kind == "retrain_model"
    return raised, asked


async def test_a_version_that_cannot_help_fails_verification_and_escalates_to_a_rollback(bus, watch, settings,
                                                                                        database_url):
    settings = settings.model_copy(update={"database_url": database_url})
    async with running_agent(settings):
        raised, _ = await incident_opened(bus, watch)
        swap = promoted("2", "1", raised)
        await bus.publish_many([swap, retired(raised)])
        # Version 2 serves the same drifted traffic no better: 200 labelled rows at F1 ~0.67 (0.96 before).
        await bus.publish_many([window_event(report(version="2", drifted=IMPORTANT, positive_rate=0.72,
                                                    counts=(50, 25, 25, 0), minutes=m)) for m in (5, 6)])
        [verdict] = await watch.wait(ActionVerified, lambda e: e.correlation_id == raised.id, timeout=30)
        assert verdict.data.passed is False and verdict.data.basis == "labels" and verdict.data.rows == 200
        assert verdict.data.served_version == "2" and "did not recover" in verdict.data.summary
        escalated = await watch.wait(DiagnosisMade, lambda e: e.correlation_id == raised.id
                                     and "verification failed" in " ".join(e.data.changes), timeout=30)
        assert escalated[-1].data.severity in ("high", "critical")
        [rollback] = await watch.wait(ApprovalRequested, lambda e: e.correlation_id == raised.id
                                      and e.data.action.kind == "rollback_model", timeout=30)
        assert rollback.data.action.params["to_version"] == "1"  # bound to the version before, at proposal time


async def test_a_version_that_recovers_is_verified_and_retired_alerts_are_not_called_a_recovery(bus, watch, settings,
                                                                                               database_url):
    settings = settings.model_copy(update={"database_url": database_url})
    async with running_agent(settings):
        raised, _ = await incident_opened(bus, watch)
        await bus.publish_many([promoted("2", "1", raised), retired(raised)])
        await bus.publish(window_event(report(version="2", counts=(50, 1, 1, 48), minutes=5)))
        await bus.publish(window_event(report(version="1", counts=(100, 0, 0, 100), minutes=5)))  # not the served one
        await bus.publish(window_event(report(version="2", counts=(50, 2, 1, 47), minutes=6)))
        [verdict] = await watch.wait(ActionVerified, lambda e: e.correlation_id == raised.id, timeout=30)
        assert verdict.data.passed is True and verdict.data.basis == "labels" and verdict.data.rows == 200
        assert verdict.data.kind == "promotion" and verdict.data.served_version == "2"
        assert "version 2 recovered" in verdict.data.summary
