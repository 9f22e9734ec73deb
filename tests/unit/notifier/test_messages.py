"""The mail and the Slack payload carry the summary, the facts, the link and (for mail) the PDF."""

from consumers.notifier.delivery import Attempted
from consumers.notifier.email import SmtpConfig, build_message
from consumers.notifier.routing import route
from consumers.notifier.service import action_id, outcome
from consumers.notifier.slack import payload
from schemas.action import ActionCompleted, ActionFailed
from tests.unit.reports.story import story

ROUTES = {s: ["email", "slack"] for s in ("low", "medium", "high", "critical")}
GROUPS = ["alert", "escalation", "approval", "promotion", "action"]


def test_mail_has_text_html_and_the_pdf_attached(tmp_path):
    s = story()
    note = route(s["alert"], ROUTES, GROUPS, "http://ui")
    pdf = tmp_path / "drift-x.pdf"
    pdf.write_bytes(b"%PDF-1.7 test")
    msg = build_message(note, SmtpConfig("h", 25, "from@x", ("a@x", "b@x")), pdf)
    assert msg["Subject"] == "[driftline high] Alert: data_drift on driftline-classifier"
    assert msg["To"] == "a@x, b@x" and msg["X-Driftline-Event-Id"] == s["alert"].id
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["drift-x.pdf"]
    assert attachments[0].get_content() == b"%PDF-1.7 test"
    text = msg.get_body(("plain",)).get_content()
    assert "3 of 5 features drifted (share 0.6000)." in text and f"http://ui/incidents/{s['alert'].correlation_id}" in text


def test_mail_without_a_report_says_so(tmp_path):
    note = route(story()["alert"], ROUTES, GROUPS, "http://ui")
    msg = build_message(note, SmtpConfig("h", 25, "f@x", ("a@x",)), None)
    assert not list(msg.iter_attachments())
    assert "could not be built" in msg.get_body(("plain",)).get_content()


def test_slack_payload_has_summary_facts_and_an_approval_button():
    s = story()
    body = payload(route(s["request"], ROUTES, GROUPS, "http://ui"))
    assert body["text"].startswith("[medium] Approval needed: retrain_model on driftline-classifier")
    button = next(b for b in body["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["url"] == "http://ui/approvals/appr-0001" and button["text"]["text"] == "Review and decide"
    fields = next(b for b in body["blocks"] if b.get("fields"))["fields"]
    assert {"type": "mrkdwn", "text": "*Requested by*\nagent"} in fields


def test_outcome_events_are_deterministic_per_event_and_channel():
    s = story()
    note = route(s["alert"], ROUTES, GROUPS, "http://ui")
    ok = outcome(s["alert"], note, "email", Attempted(True, 1))
    again = outcome(s["alert"], note, "email", Attempted(True, 1))
    failed = outcome(s["alert"], note, "slack", Attempted(False, 3, "boom"))
    assert isinstance(ok, ActionCompleted) and isinstance(failed, ActionFailed)
    assert ok.id == again.id and ok.data.action_id == action_id(s["alert"].id, "email")
    assert ok.correlation_id == s["alert"].correlation_id and ok.causation_id == s["alert"].id
    assert failed.data.kind == "send_alert" and "after 3 attempts: boom" in failed.data.error
    assert failed.data.model == "driftline-classifier"


def test_slack_links_to_the_report_on_the_page_and_the_mail_names_it_beside_the_attachment(tmp_path):
    s = story(version="7")
    note = route(s["promoted"], ROUTES, GROUPS, "http://ui", {"promotion": ["email", "slack"]})
    body = payload(note)
    buttons = next(b for b in body["blocks"] if b["type"] == "actions")["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Open in Driftline", "Deployment report"]
    assert buttons[1]["url"] == "http://ui/reports/deployment/deployment-v7.pdf"
    assert "report: <http://ui/reports/deployment/deployment-v7.pdf>" in body["text"]
    pdf = tmp_path / "deployment-v7.pdf"
    pdf.write_bytes(b"%PDF-1.7 fake")
    text = build_message(note, SmtpConfig("h", 25, "f@x", ("a@x",)), pdf).get_body(("plain",)).get_content()
    assert "Report: http://ui/reports/deployment/deployment-v7.pdf (attached)" in text
