"""The deployment report, sent by email and to Slack: CI's last step after a deploy (success or not).

Usage: python3 scripts/deploy_report.py --report deploy-report.json [--dry-run]
Reads the report scripts/deploy_smoke.py wrote (a missing report says the deploy failed before the smoke test),
and these variables, which CI fills from repository secrets and never prints:
  DEPLOY_STATUS (the job's status), DEPLOY_URL, RUN_URL,
  SMTP_HOST, SMTP_PORT (587: STARTTLS; 465: TLS; SMTP_STARTTLS=false for a relay without it), SMTP_USERNAME,
  SMTP_PASSWORD, REPORT_EMAIL_TO (comma-separated),
  SLACK_WEBHOOK_URL (an incoming webhook).
A channel whose variables are unset is skipped with a notice; one that is set and fails to send makes the exit
status 1. --dry-run prints the message and sends nothing. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import ssl
import sys
import urllib.request
from email.message import EmailMessage
from pathlib import Path


def load(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {"ok": False, "checks": [], "note": f"no smoke report at {path}: the deploy failed before the smoke test"}


def message(report: dict, env: dict[str, str]) -> tuple[str, str]:
    """(subject, text) of the report. Pure."""
    status = env.get("DEPLOY_STATUS") or ("success" if report.get("ok") else "failure")
    ok = status == "success" and report.get("ok", False)
    url = env.get("DEPLOY_URL") or report.get("url", "")
    subject = f"Driftline deploy {'succeeded' if ok else 'FAILED'}: {report.get('image') or 'unknown image'}"
    lines = [subject, "", f"URL:     {url}", f"Image:   {report.get('image', '')}",
             f"Commit:  {report.get('commit', '')}", f"Window:  {report.get('started', '?')} .. {report.get('finished', '?')}",
             f"Run:     {env.get('RUN_URL', '')}", "", "Smoke test:"]
    for check in report.get("checks", []):
        lines.append(f"  {'ok  ' if check['ok'] else 'FAIL'} {check['check']} ({check['ms']} ms) {check['detail']}")
    if report.get("note"):
        lines.append(f"  {report['note']}")
    return subject, "\n".join(lines) + "\n"


def send_email(subject: str, text: str, env: dict[str, str]) -> str:
    host, to = env.get("SMTP_HOST"), [a.strip() for a in env.get("REPORT_EMAIL_TO", "").split(",") if a.strip()]
    if not host or not to:
        return "email: skipped (set SMTP_HOST and REPORT_EMAIL_TO)"
    port = int(env.get("SMTP_PORT") or 587)
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = subject, env.get("SMTP_USERNAME") or "driftline-ci@localhost", ", ".join(to)
    mail.set_content(text)
    context = ssl.create_default_context()
    smtp = smtplib.SMTP_SSL(host, port, context=context, timeout=30) if port == 465 else smtplib.SMTP(host, port, timeout=30)
    with smtp:
        if port != 465 and env.get("SMTP_STARTTLS", "true") != "false":
            smtp.starttls(context=context)
        if env.get("SMTP_USERNAME"):
            smtp.login(env["SMTP_USERNAME"], env.get("SMTP_PASSWORD", ""))
        smtp.send_message(mail)
    return f"email: sent to {len(to)} recipient(s)"


def send_slack(text: str, env: dict[str, str]) -> str:
    url = env.get("SLACK_WEBHOOK_URL")
    if not url:
        return "slack: skipped (set SLACK_WEBHOOK_URL)"
    request = urllib.request.Request(url, data=json.dumps({"text": f"```{text}```"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        if reply.status >= 300:
            raise RuntimeError(f"Slack answered {reply.status}")
    return "slack: sent"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", required=True, help="the JSON report of scripts/deploy_smoke.py")
    parser.add_argument("--dry-run", action="store_true", help="print the message, send nothing")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    subject, text = message(load(args.report), env)
    print(text)
    if args.dry_run:
        return 0
    failed = False
    for channel, send in (("email", lambda: send_email(subject, text, env)), ("slack", lambda: send_slack(text, env))):
        try:
            print(send())
        except Exception as exc:  # one channel down must not hide the other's result
            print(f"{channel}: FAILED to send ({type(exc).__name__}: {exc})", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
