"""The approval page in real headless Chromium: sign in, a request appears live, evidence a person reads at a glance
(the sentence, each drifted feature's distribution, the shift in predictions, every feature drifted first), approve,
the action completes on the incident timeline in plain words. Screenshots go to test-artifacts/; the README's two
pictures (the approval page, a report) are written to docs/images/ by this test, so they stay current."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

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
from schemas import ApprovalDecided, ModelPromoted, ModelTrained, PredictionMade, parse_event
from schemas.action import ActionCompleted, ActionScheduled, ActionStarted, ActionVerified
from tests.e2e import page_story
from tests.integration.audit_helpers import signer_and_anchor
from tests.integration.ui_helpers import pend
from ui.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
README_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


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


def small_png(source: Path, target: Path, width: int = 1000) -> None:
    """A README picture: scaled to `width` and reduced to a palette, so the repository stays small."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
        image.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


def drift_report_pdf(story: page_story.Story, settings) -> Path:
    """The drift report of the story's alert, rendered as the report builder renders it, stored where it serves."""
    from consumers.reports import drift
    from consumers.reports.render import render_pdf

    subject = drift.resolve([*story.reports, story.alert], story.alert.id)
    path = settings.reports_dir / "drift" / f"drift-{story.alert.id}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_pdf(drift.drift_context(subject, story.reference, story.current)))
    return path


async def test_sign_in_approve_and_see_the_action_complete(served, bus, settings, artifacts_dir):
    from playwright.async_api import async_playwright, expect

    url, pool = served
    model = settings.model_name
    story = await asyncio.to_thread(page_story.make, model)
    last = page_story.WINDOWS - 1
    (settings.reports_dir / "evidently").mkdir(parents=True)
    (settings.reports_dir / "evidently" / f"w{last}.html").write_text("<html><body><h1>Evidently</h1></body></html>")
    await bus.publish_many(story.reports)
    await bus.publish_many([story.alert, story.diagnosis, *model_history(model)])
    await bus.publish_many([PredictionMade(source="inference/worker", subject=model, data=dict(
        request_id=f"r{i}", model=model, model_version="1", features={"mean radius": 14.0}, predicted_class=1,
        probabilities={"0": 0.1, "1": 0.9}, latency_ms=3.0 + (i % 7), channel="http")) for i in range(60)])
    pdf = await asyncio.to_thread(drift_report_pdf, story, settings)
    request, approval_id = story.request, story.request.data.approval_id

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(20_000)
            await page.goto(url + "/")
            await page.fill("input[name=username]", "ada")
            await page.fill("input[name=password]", "ada-secret-1")
            await page.click("button[type=submit]")
            await expect(page.locator("h1")).to_have_text("Pending approvals")
            await expect(page.locator("#pending-count")).to_have_text("0")
            await page.evaluate("window.__same_page = true")  # gone if the page reloads

            await pend(bus, pool, request)
            row = page.locator(f'tr.pending-row[data-approval-id="{approval_id}"]')
            await expect(row).to_be_visible()
            await expect(row).to_contain_text(f"retrain {model}")
            await expect(page.locator("#pending-count")).to_have_text("1")
            assert await page.evaluate("window.__same_page === true")
            await page.screenshot(path=str(artifacts_dir / "approval-1-pending.png"), full_page=True)

            await row.locator("a").click()
            # the sentence up front, the numbers one click away
            await expect(page.locator("#headline")).to_have_text(story.diagnosis.data.headline.replace("`", ""))
            await expect(page.locator("#headline b").first).to_have_text("worst radius")  # names in bold
            await expect(page.locator("#headline")).to_contain_text("worst radius moved up by 0.8 standard deviations")
            await expect(page.locator("#predicted-impact")).to_contain_text("is retrained on its training data")
            assert not await page.locator("#signals").is_visible()
            # what changed: each drifted feature's distribution and the shift in predictions; every feature, drifted first
            await expect(page.locator("svg.dist-chart")).to_have_count(len(page_story.DRIFTED))
            await expect(page.locator("svg.dist-chart").first).to_contain_text("worst radius: mean")
            await expect(page.locator("svg.shift-chart")).to_contain_text("Predicted 1:")
            multiples = page.locator("svg.small-multiple")
            await expect(multiples).to_have_count(len(page_story.SHOWN))
            await expect(page.locator("svg.small-multiple.drifted")).to_have_count(len(page_story.DRIFTED))
            for k in range(len(page_story.DRIFTED)):  # the drifted ones first
                assert await multiples.nth(k).evaluate("e => e.classList.contains('drifted')")
            await expect(page.locator(f'a[href="/reports/evidently/w{last}.html"]')).to_be_visible()
            await page.screenshot(path=str(artifacts_dir / "approval-2-evidence.png"), full_page=True)
            small_png(artifacts_dir / "approval-2-evidence.png", README_IMAGES / "approval-page.png")
            await page.click("#numbers > summary")
            await expect(page.locator("#signals")).to_contain_text("change in the share predicted positive")
            await page.click("#exact-action > summary")
            await expect(page.locator("#action-json")).to_contain_text("retrain_model")
            await page.screenshot(path=str(artifacts_dir / "approval-2b-numbers.png"), full_page=True)

            await page.fill("textarea[name=comment]", "drift is real; retrain")
            await page.click("button.approve")
            await page.wait_for_url(f"**/incidents/{story.alert.correlation_id}")
            decided = await _decision(bus)
            await bus.publish_many(executor_events(decided, request))
            status = page.locator("#incident-status")
            for _ in range(60):  # the timeline is a read model: reload until the projector wrote the outcome
                if await status.count() and await status.text_content() == "resolved by verification":
                    break
                await asyncio.sleep(0.25)
                await page.reload()
            await expect(status).to_have_text("resolved by verification")
            await expect(page.locator("#resolved-by")).to_contain_text(f"verified: retrain {model}")
            await expect(page.locator("h1")).to_have_text(f"Data drift on {model} v1: mean concave points, worst radius")
            timeline = page.locator("#timeline")
            await expect(timeline).to_contain_text(f"approved the request to retrain {model} on the page")
            await expect(timeline).to_contain_text(f"done: retrain {model} (v3)")
            assert approval_id not in await timeline.text_content()  # names, not ids
            await page.screenshot(path=str(artifacts_dir / "approval-3-timeline.png"), full_page=True)
            await expect(page.locator("#pending-count")).to_have_text("0")

            await page.goto(url + "/incidents")  # the training runs' chains are no incident
            await expect(page.locator("tr.incident-row")).to_have_count(1)
            await expect(page.locator("#incidents")).to_contain_text("resolved by verification")
            await page.screenshot(path=str(artifacts_dir / "approval-6-incidents.png"), full_page=True)

            await page.goto(url + "/models")
            await expect(page.locator("#champion")).to_have_text("version 3")
            await expect(page.locator("table.list")).to_contain_text("declined; v1 stayed champion")
            await expect(page.locator("table.list")).to_contain_text("retrained to repair an incident")
            await page.screenshot(path=str(artifacts_dir / "approval-4-models.png"), full_page=True)

            await page.goto(url + "/trends")
            charts = page.locator("svg.chart")
            await expect(charts).to_have_count(5)  # drift share, F1, accuracy, labelled rows, latency
            await expect(charts.nth(0)).to_contain_text("100%")
            await expect(charts.nth(3)).to_contain_text("Labelled predictions per window")
            await expect(charts.nth(4)).to_contain_text("p95")
            assert "e+0" not in await page.locator("main").text_content()
            await page.screenshot(path=str(artifacts_dir / "approval-5-trends.png"), full_page=True)

            served_pdf = await page.request.get(f"{url}/reports/drift/{pdf.name}")
            assert served_pdf.status == 200 and served_pdf.headers["content-type"] == "application/pdf"
            assert (await page.request.get(f"{url}/reports/drift/..%2F..%2Fui_secret.pdf")).status == 404
        finally:
            await browser.close()
    png = artifacts_dir / "report-drift"
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(png)],
                   check=True, timeout=60)
    small_png(png.with_suffix(".png"), README_IMAGES / "report-page.png", width=700)


def trained(model: str, version: str, f1: float, trigger: str = "manual") -> ModelTrained:
    return ModelTrained(source="trainer", subject=model, data=dict(
        model=model, version=version, parent_run_id=f"run{version}", best_family="random_forest",
        selection_metric="f1", dataset="builtin:breast_cancer", dataset_hash="h", split_seed=42, trigger=trigger,
        candidates=[dict(family="random_forest", run_id="a", metrics={"f1": f1, "roc_auc": 0.98}),
                    dict(family="logistic_regression", run_id="b", metrics={"f1": f1 - 0.01, "roc_auc": 0.97})]))


def model_history(model: str) -> list:
    """Version 1 champion; version 2 trained by hand and declined (as the trainer records it: the version that stays
    champion, the challenger named)."""
    first, second = trained(model, "1", 0.95, "startup"), trained(model, "2", 0.93)
    return [first, first.caused(ModelPromoted, source="trainer", data=dict(
                model=model, version="1", reason="first model")),
            second, second.caused(ModelPromoted, source="trainer", data=dict(
                model=model, version="1", previous_version="1", promoted=False, challenger_version="2",
                reason="version 2 did not beat champion version 1: f1 0.93 < 0.95",
                challenger_metrics={"f1": 0.93}, champion_metrics={"f1": 0.95}))]


async def _decision(bus) -> ApprovalDecided:
    async for msg in read_stream(bus.js, "AUDIT", subjects=("driftline.approval.decided",)):
        return parse_event(msg.data)
    raise AssertionError("no ApprovalDecided on the bus")


def executor_events(decided: ApprovalDecided, request) -> list:
    """What the gate, the executor, the trainer and the verifier publish after an approval (the agent is not part of
    this test): version 3 trained on recent data, promoted, and verified on the traffic it serves."""
    action = request.data.action
    scheduled = decided.caused(ActionScheduled, source="agent/gate", data=dict(
        action=action, approved_by=decided.data.decided_by, approval_id=decided.data.approval_id))
    started = scheduled.caused(ActionStarted, source="agent/executor", data=dict(
        action_id=action.action_id, kind=action.kind, model=action.model))
    third = started.caused(ModelTrained, source="trainer", data=trained(action.model, "3", 0.95, action.action_id).data)
    promoted = third.caused(ModelPromoted, source="trainer", data=dict(
        model=action.model, version="3", previous_version="1", challenger_version="3",
        reason="version 3 beat champion version 1 on recent traffic: f1 0.95 > 0.90", metric="f1",
        comparisons=[dict(holdout="recent", rows=360, challenger_metrics={"f1": 0.95}, champion_metrics={"f1": 0.90}),
                     dict(holdout="reference", rows=114, challenger_metrics={"f1": 0.96},
                          champion_metrics={"f1": 0.96})]))
    completed = promoted.caused(ActionCompleted, source="agent/executor", data=dict(
        action_id=action.action_id, kind=action.kind, model=action.model, summary="trained v3; promoted (f1 0.95)",
        result={"version": "3"}))
    verified = completed.caused(ActionVerified, source="agent/diagnoser", data=dict(
        incident_id=decided.correlation_id, model=action.model, action_id=action.action_id, kind=action.kind,
        passed=True, served_version="3", basis="labels", rows=200, rule="F1 within 0.02 of before the drift",
        summary="F1 0.95 on 200 labelled rows of v3's traffic (0.90 before)"))
    return [scheduled, started, third, promoted, completed, verified]
