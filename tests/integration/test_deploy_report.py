"""scripts/deploy_report.py, CI's last deploy step, against a real SMTP server (aiosmtpd) and a real HTTP receiver
standing where Slack's incoming webhook would be."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from infra.processes import free_port
from tests.integration.notifier_fixtures import WebhookReceiver, start_smtp

ROOT = Path(__file__).resolve().parents[2]
REPORT = {"url": "https://gw.example", "image": "ghcr.io/o/driftline:abc123", "commit": "abc123", "ok": False,
          "started": "2026-12-01T10:00:00+00:00", "finished": "2026-12-01T10:04:00+00:00",
          "checks": [{"check": "health", "ok": True, "ms": 12.0, "detail": "200 after 40s"},
                     {"check": "predict with the API key", "ok": False, "ms": 30.1, "detail": "HTTPError: 500"}]}


async def report(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    path = tmp_path / "deploy-report.json"
    path.write_text(json.dumps(REPORT))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "SLACK_", "REPORT_", "DEPLOY_"))}
    proc = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "scripts/deploy_report.py"), "--report",
                                                str(path), env={**clean, **env}, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode()


@pytest.fixture
async def slack():
    receiver = WebhookReceiver(free_port())
    await receiver.start()
    yield receiver
    await receiver.stop()


async def test_the_report_goes_out_by_email_and_slack(tmp_path, slack):
    controller, box, port = start_smtp()
    try:
        code, out = await report(tmp_path, {
            "DEPLOY_STATUS": "failure", "RUN_URL": "https://ci.example/run/1", "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port), "SMTP_STARTTLS": "false", "REPORT_EMAIL_TO": "ops@example.org, lead@example.org",
            "SLACK_WEBHOOK_URL": slack.url})
    finally:
        controller.stop()
    assert code == 0, out
    [mail] = box.messages
    assert mail["Subject"] == "Driftline deploy FAILED: ghcr.io/o/driftline:abc123"
    body = mail.get_content()
    assert "FAIL predict with the API key" in body and "https://ci.example/run/1" in body
    assert sorted(box.recipients[0]) == ["lead@example.org", "ops@example.org"]
    [payload] = slack.payloads()
    assert "FAIL predict with the API key" in payload["text"] and "abc123" in payload["text"]
    assert "email: sent to 2 recipient(s)" in out and "slack: sent" in out


async def test_an_unconfigured_channel_is_skipped_and_a_failing_one_fails_the_step(tmp_path):
    code, out = await report(tmp_path, {"DEPLOY_STATUS": "success"})
    assert code == 0 and "email: skipped" in out and "slack: skipped" in out
    closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: the send fails, and says so
    code, out = await report(tmp_path, {"SLACK_WEBHOOK_URL": closed, "SMTP_PASSWORD": "s3cret-pw"})
    assert code == 1 and "slack: FAILED to send" in out and "email: skipped" in out
    assert "s3cret-pw" not in out
