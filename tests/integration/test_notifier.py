"""The notifier against real servers: SMTP (aiosmtpd) gets the mail with the PDF, a local receiver gets the
signed Slack payload, a redelivered event is not sent twice, and automatic reports land in the data dir and MLflow."""

from __future__ import annotations

import asyncio
import io
import subprocess
from datetime import timedelta

import asyncpg
import httpx
import pytest
from pypdf import PdfReader

from consumers.notifier import metrics
from consumers.notifier.service import Notifier
from consumers.reports.audit_log import load_events
from consumers.reports.service import REPORTS_EXPERIMENT
from driftline import run_notifier
from infra.processes import free_port
from infra.settings import Settings
from infra.webhook_signing import verify
from schemas.action import ActionCompleted, ActionFailed
from schemas.prediction import PredictionMade
from tests.integration.notifier_fixtures import WebhookReceiver, start_smtp, wait_for
from tests.model_fixtures import breast_cancer_frame, register_simple_model
from tests.unit.reports.story import story

pytestmark = pytest.mark.integration
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(data)).pages)


def predictions_in(window_start, version: str, rows: int = 150) -> list[PredictionMade]:
    """Served traffic inside the drift window, with mean radius shifted so the chart shows the drift."""
    frame = breast_cancer_frame().drop(columns="target").head(rows)
    frame["mean radius"] = frame["mean radius"] + 4.0
    return [PredictionMade(source="test", subject="driftline-classifier", time=window_start + timedelta(seconds=i),
                           data=dict(request_id=f"r{i}", model="driftline-classifier", model_version=version,
                                     features=row, predicted_class=1, probabilities={"0": 0.2, "1": 0.8},
                                     latency_ms=1.0, channel="bus"))
            for i, row in enumerate(frame.to_dict("records"))]


async def send_alert_outcomes(bus) -> list:
    events = await load_events(bus.js, subjects=(ActionCompleted.topic, ActionFailed.topic))
    return [e for e in events if e.data.kind == "send_alert"]


async def test_mail_with_pdf_signed_slack_reports_stored_and_logged(bus, settings, database_url, artifacts_dir):
    smtp, box, smtp_port = start_smtp()
    hook = WebhookReceiver(free_port())
    await hook.start()
    settings = Settings(**{**settings.model_dump(), **dict(
        database_url=database_url, smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_security="none",
        email_to=["ops@example.com"], slack_webhook_url=hook.url, webhook_secret=SECRET, notify_backoff_s=[0.05],
        public_ui_url="https://driftline.example")})
    version = await asyncio.to_thread(register_simple_model, settings)
    s = story(version=version)
    await bus.publish_many(predictions_in(s["report"].data.window.start, version))
    await bus.publish_many(list(s.values()))
    stop = asyncio.Event()
    task = asyncio.create_task(run_notifier.main(settings, stop))
    try:
        # alert (high) and approval request (medium) mail; those two plus promotion and outcome (low) go to Slack.
        await wait_for(lambda: len(box.messages) >= 3 and len(hook.received) >= 4, what="3 mails and 4 posts", task=task)
        incident_pdf = settings.reports_dir / "incident" / f"incident-{s['alert'].correlation_id}.pdf"
        deployment_pdf = settings.reports_dir / "deployment" / f"deployment-v{version}.pdf"
        drift_pdf = settings.reports_dir / "drift" / f"drift-{s['alert'].id}.pdf"
        await wait_for(lambda: all(p.exists() for p in (incident_pdf, deployment_pdf, drift_pdf)), what="reports", task=task)
        async with asyncio.timeout(60):
            while len(outcomes := await send_alert_outcomes(bus)) < 7:
                await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task
    smtp.stop()

    mails = {m["X-Driftline-Event-Id"]: m for m in box.messages}
    assert set(mails) == {s["alert"].id, s["request"].id, s["promoted"].id}  # a promotion is mailed by default
    (deployment,) = list(mails[s["promoted"].id].iter_attachments())
    assert deployment.get_filename() == f"deployment-v{version}.pdf"
    alert_mail = mails[s["alert"].id]
    assert alert_mail["Subject"] == "[driftline high] Alert: data_drift on driftline-classifier"
    (attachment,) = list(alert_mail.iter_attachments())
    assert attachment.get_filename() == f"drift-{s['alert'].id}.pdf"
    text = pdf_text(attachment.get_content())
    for number in ("0.4817", "0.3312", "0.2209", "0.6000", "1200"):
        assert number in text
    assert "mean radius: reference against current" in text and "PredictionMade events in the window" in text
    (request_pdf,) = list(mails[s["request"].id].iter_attachments())
    assert request_pdf.get_filename() == f"incident-{s['alert'].correlation_id}.pdf"
    assert "https://driftline.example/approvals/appr-0001" in mails[s["request"].id].get_body(("plain",)).get_content()

    posts = hook.payloads()
    assert len(posts) == 4
    for headers, body in hook.received:
        assert verify(SECRET, headers, body)
        assert headers["webhook-id"].endswith(".slack")
    titles = sorted(p["blocks"][0]["text"]["text"] for p in posts)
    assert titles == sorted([f"driftline-classifier v{version} promoted to champion",
                             "Alert: data_drift on driftline-classifier",
                             "Approval needed: retrain_model on driftline-classifier",
                             "Action completed: retrain_model on driftline-classifier"])
    approval = next(p for p in posts if p["blocks"][0]["text"]["text"].startswith("Approval"))
    assert approval["blocks"][-2]["elements"][0]["url"] == "https://driftline.example/approvals/appr-0001"

    assert len(outcomes) == 7 and all(isinstance(o, ActionCompleted) for o in outcomes)
    assert {o.data.action_id for o in outcomes} >= {f"send_alert:email:{s['alert'].id}",
                                                     f"send_alert:slack:{s['alert'].id}"}

    # The numbers of every report, and one page of each as a picture to look at.
    assert "0.9721" in pdf_text(deployment_pdf.read_bytes()) and "0.9512" in pdf_text(deployment_pdf.read_bytes())
    incident_text = pdf_text(incident_pdf.read_bytes())
    for number in ("0.8833", "0.9561", "0.9634", "+0.0922"):
        assert number in incident_text
    assert "alice" in incident_text and "Drift confirmed on the dashboard; retrain." in incident_text
    for pdf in (deployment_pdf, drift_pdf, incident_pdf):
        kind = pdf.parent.name
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "2", str(pdf),
                        str(artifacts_dir / f"report-{kind}")], check=True)

    # Logged to MLflow: on the model's run, and in the reports experiment.
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    run_id = client.get_model_version(settings.model_name, version).run_id
    assert f"reports/deployment-v{version}.pdf" in [f.path for f in client.list_artifacts(run_id, "reports")]
    exp = mlflow.get_experiment_by_name(REPORTS_EXPERIMENT)
    runs = client.search_runs([exp.experiment_id], filter_string=f"tags.`driftline.report` = 'drift-{s['alert'].id}'")
    assert [f.path for f in client.list_artifacts(runs[0].info.run_id, "reports")] == [
        f"reports/drift-{s['alert'].id}.pdf"]

    # A redelivered event does not mail twice.
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    before = metrics.NOTIFICATIONS.labels("email", "duplicate")._value.get()
    async with httpx.AsyncClient() as http:
        await Notifier(settings, bus, pool, http).notify(s["alert"])
    assert len(box.messages) == 3 and len(hook.received) == 4
    assert metrics.NOTIFICATIONS.labels("email", "duplicate")._value.get() == before + 1
    rows = await pool.fetch("SELECT channel, status, attempts FROM notifier_deliveries WHERE event_id = $1"
                            " ORDER BY channel", s["alert"].id)
    assert [tuple(r) for r in rows] == [("email", "sent", 1), ("slack", "sent", 1)]
    await pool.close()
    await hook.stop()
