"""The approval page in real headless Chromium: sign in, a request appears live, evidence with charts, approve,
the action completes on the incident timeline. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import uvicorn

from agent.approvals.desk import ApprovalDesk
from agent.approvals.keys import decision_signer
from consumers.audit.projector import Projector
from infra.db import connect_pool
from infra.outbox import OutboxRelay
from infra.processes import free_port
from infra.stream_reader import read_stream
from infra.users import add_user
from schemas import (
    ApprovalDecided,
    DiagnosisMade,
    DriftReported,
    ModelPromoted,
    ModelTrained,
    PredictionMade,
    parse_event,
)
from schemas.action import ActionCompleted, ActionScheduled, ActionStarted, ActionVerified
from schemas.envelope import utcnow
from schemas.monitoring import AlertRaised
from tests.integration.audit_helpers import signer_and_anchor
from tests.integration.ui_helpers import pend, request_event
from ui.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
FEATURES = ("mean radius", "mean texture", "mean area")


def drift_windows(model: str, n: int = 8) -> list[DriftReported]:
    start = utcnow() - timedelta(minutes=5 * n)
    reports = []
    for i in range(n):
        features = [dict(feature=f, statistic="psi", value=0.02 + (0.06 * i if f == "mean radius" else 0.01 * k),
                         threshold=0.2, drifted=f == "mean radius" and 0.02 + 0.06 * i > 0.2, detector="psi")
                    for k, f in enumerate(FEATURES)]
        drifted = sum(f["drifted"] for f in features) / len(features)
        reports.append(DriftReported(source="consumers/monitor", subject=model, data=dict(
            model=model, model_version="1", features=features, share_drifted=drifted,
            window=dict(start=start + timedelta(minutes=5 * i), end=start + timedelta(minutes=5 * i + 4), events=500),
            quality={"accuracy": 0.95 - 0.02 * i, "f1": 0.94 - 0.025 * i}, report_url=f"evidently/w{i}.html")))
    return reports


@pytest.fixture
async def served(settings, bus, database_url):
    """The page on a free port with the projector running, as `driftline up` would run them."""
    pool = await connect_pool(database_url, max_size=6)
    async with pool.acquire() as conn:
        await add_user(conn, "ada", "approver", password="ada-secret-1")
    app = create_app(settings, bus, pool, ApprovalDesk(pool, decision_signer(settings)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    signer, anchor = signer_and_anchor(settings)
    projecting = asyncio.create_task(Projector(bus, pool, signer, anchor=anchor, checkpoint_every=0,
                                               max_wait=0.1).run(stop))
    relaying = asyncio.create_task(OutboxRelay(bus, pool).run(stop))  # the agent's relay announces decisions
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}", pool
    app.state.stopping.set()
    server.should_exit = True
    stop.set()
    await asyncio.gather(serving, projecting, relaying)
    await pool.close()


async def test_sign_in_approve_and_see_the_action_complete(served, bus, settings, artifacts_dir):
    from playwright.async_api import async_playwright, expect

    url, pool = served
    model = settings.model_name
    (settings.reports_dir / "evidently").mkdir(parents=True)
    (settings.reports_dir / "evidently" / "w7.html").write_text("<html><body><h1>Evidently</h1></body></html>")
    await bus.publish_many(drift_windows(model))
    alert = AlertRaised(source="consumers/monitor", subject=model, data=dict(
        kind="data_drift", model=model, fingerprint="psi:mean radius", features=["mean radius"], statistic="psi",
        value=0.44, threshold=0.2, detector="psi", summary="mean radius drifted"))
    diagnosis = alert.caused(DiagnosisMade, source="agent/diagnoser", data=dict(
        incident_id=alert.correlation_id, model=model, issue="data_drift", severity="medium",
        reasoning="The distribution of mean radius moved well past its threshold for three windows in a row.",
        evidence=[dict(metric="psi", value=0.44, threshold=0.2, window="last 5 min", report_url="evidently/w7.html")],
        features=["mean radius"], proposed_actions=[dict(kind="retrain_model", reason="fresh labelled data")]))
    await bus.publish_many([alert, diagnosis, *model_history(model)])
    await bus.publish_many([PredictionMade(source="inference/worker", subject=model, data=dict(
        request_id=f"r{i}", model=model, model_version="1", features={"mean radius": 14.0}, predicted_class=1,
        probabilities={"0": 0.1, "1": 0.9}, latency_ms=3.0 + (i % 7), channel="http")) for i in range(60)])

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15_000)
            await page.goto(url + "/")
            await page.fill("input[name=username]", "ada")
            await page.fill("input[name=password]", "ada-secret-1")
            await page.click("button[type=submit]")
            await expect(page.locator("h1")).to_have_text("Pending approvals")
            await expect(page.locator("#pending-count")).to_have_text("0")
            await page.evaluate("window.__same_page = true")  # gone if the page reloads

            request = diagnosis.caused(type(request_event()), source="agent/gate", data=request_event(
                "ap-e2e", model=model, diagnosis_id=diagnosis.id).data)
            await pend(bus, pool, request)
            row = page.locator('tr.pending-row[data-approval-id="ap-e2e"]')
            await expect(row).to_be_visible()
            await expect(page.locator("#pending-count")).to_have_text("1")
            assert await page.evaluate("window.__same_page === true")
            await page.screenshot(path=str(artifacts_dir / "approval-1-pending.png"), full_page=True)

            await row.locator("a").click()
            await expect(page.locator("svg.drift-chart").first).to_be_visible()
            assert await page.locator("svg.drift-chart").count() == len(FEATURES)
            await expect(page.locator("#diagnosis")).to_contain_text("mean radius moved")
            await expect(page.locator("#action-json")).to_contain_text("retrain_model")
            await expect(page.locator('a[href="/reports/evidently/w7.html"]')).to_be_visible()
            await page.screenshot(path=str(artifacts_dir / "approval-2-evidence.png"), full_page=True)

            await page.fill("textarea[name=comment]", "drift is real; retrain")
            await page.click("button.approve")
            await page.wait_for_url(f"**/incidents/{alert.correlation_id}")
            decided = await _decision(bus)
            await bus.publish_many(executor_events(decided, request))
            done = page.locator("#timeline li.outcome-completed")
            for _ in range(40):  # the timeline is a read model: reload until the projector wrote the outcome
                if await done.count():
                    break
                await asyncio.sleep(0.25)
                await page.reload()
            await expect(done).to_contain_text("completed retrain_model")
            await expect(page.locator("#incident-status")).to_have_text("resolved by verification")
            await expect(page.locator("#timeline")).to_contain_text("approved request ap-e2e via web")
            await page.screenshot(path=str(artifacts_dir / "approval-3-timeline.png"), full_page=True)
            await expect(page.locator("#pending-count")).to_have_text("0")

            await page.goto(url + "/models")
            await expect(page.locator("#champion")).to_have_text("version 1")
            await expect(page.locator("table.list")).to_contain_text("declined")
            await page.screenshot(path=str(artifacts_dir / "approval-4-models.png"), full_page=True)
            await page.goto(url + "/trends")
            await expect(page.locator("svg.chart")).to_have_count(3)
            await expect(page.locator("svg.chart").nth(2)).to_contain_text("p95")
            await page.screenshot(path=str(artifacts_dir / "approval-5-trends.png"), full_page=True)
        finally:
            await browser.close()


def model_history(model: str) -> list:
    def trained(version: str, f1: float) -> ModelTrained:
        return ModelTrained(source="trainer", subject=model, data=dict(
            model=model, version=version, parent_run_id=f"run{version}", best_family="random_forest",
            selection_metric="f1", dataset="builtin:breast_cancer", dataset_hash="h", split_seed=42,
            candidates=[dict(family="random_forest", run_id="a", metrics={"f1": f1, "roc_auc": 0.98}),
                        dict(family="logistic_regression", run_id="b", metrics={"f1": f1 - 0.01, "roc_auc": 0.97})]))

    first, second = trained("1", 0.95), trained("2", 0.93)
    return [first, first.caused(ModelPromoted, source="trainer", data=dict(
                model=model, version="1", reason="first model")),
            second, second.caused(ModelPromoted, source="trainer", data=dict(
                model=model, version="2", previous_version="1", promoted=False, reason="f1 0.93 < 0.95",
                challenger_metrics={"f1": 0.93}, champion_metrics={"f1": 0.95}))]


async def _decision(bus) -> ApprovalDecided:
    async for msg in read_stream(bus.js, "AUDIT", subjects=("driftline.approval.decided",)):
        return parse_event(msg.data)
    raise AssertionError("no ApprovalDecided on the bus")


def executor_events(decided: ApprovalDecided, request) -> list:
    """What the gate and executor publish after an approval (the agent is not part of this test)."""
    action = request.data.action
    scheduled = decided.caused(ActionScheduled, source="agent/gate", data=dict(
        action=action, approved_by=decided.data.decided_by, approval_id=decided.data.approval_id))
    started = scheduled.caused(ActionStarted, source="agent/executor", data=dict(
        action_id=action.action_id, kind=action.kind, model=action.model))
    completed = started.caused(ActionCompleted, source="agent/executor", data=dict(
        action_id=action.action_id, kind=action.kind, model=action.model, summary="trained v2; f1 0.95",
        result={"version": "2"}))
    verified = completed.caused(ActionVerified, source="agent/diagnoser", data=dict(
        incident_id=decided.correlation_id, model=action.model, action_id=action.action_id, kind=action.kind,
        passed=True, basis="labels", rows=200, rule="F1 within 0.02 of before", summary="version 2 recovered"))
    return [scheduled, started, completed, verified]
