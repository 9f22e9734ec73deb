"""What the loop's e2e tests share: the `driftline` commands a user runs, the story `audit replay` tells, the page
signed in as the approver, the versions gateway and worker serve, and the evidence kept after a run. Only the
commands and the page a user has (no bus or database access of the test's own)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.test_approval_page import ARGS, CHROMIUM
from tests.e2e.test_up import ROOT

PASSWORD = "bob-approves-7"


def run(env: dict, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
    result = subprocess.run([sys.executable, "-m", "driftline", *args], cwd=ROOT, env=env, input=stdin,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"driftline {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def story(env: dict, correlation: str | None = None, since: str | None = None) -> list[dict]:
    """The chapters, as `driftline audit replay [--correlation ID] [--since TIME] --json` tells them."""
    args = [*(["--correlation", correlation] if correlation else []), *(["--since", since] if since else [])]
    out = run(env, "audit", "replay", *args, "--json")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def wait_for(what: str, check, timeout: float, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def metrics_text(env: dict, port_setting: str) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{env[port_setting]}/metrics", timeout=3).text
    except httpx.HTTPError:
        return None


def served_versions(env: dict) -> tuple[str | None, str | None]:
    """(gateway's model version, worker's): /ready and the worker's driftline_model_info gauge."""
    try:
        gateway = httpx.get(f"http://127.0.0.1:{env['DRIFTLINE_GATEWAY_PORT']}/ready", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return None, None
    metrics = metrics_text(env, "DRIFTLINE_WORKER_METRICS_PORT") or ""
    worker = re.search(r'driftline_model_info\{[^}]*version="([^"]+)"[^}]*\} 1\.0', metrics)
    return gateway.get("model_version"), worker.group(1) if worker else None


def pending(env: dict, kind: str) -> dict | None:
    """The first request waiting for a decision on an action of `kind`, as `driftline approvals list --json` has it."""
    doc = json.loads(run(env, "approvals", "list", "--json"))
    return next((p for p in doc["pending"] if p["action"]["kind"] == kind), None)


def pending_retrain(env: dict) -> dict | None:
    return pending(env, "retrain_model")


def signed_in(pw, env: dict):
    """Chromium signed in to the page as the approver."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"http://127.0.0.1:{env['DRIFTLINE_UI_PORT']}/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    return browser, page


def approve_on_the_page(page, approval_id: str, correlation: str, shot: Path, *, kind: str = "retrain_model",
                        comment: str = "predictions moved on important features; retrain",
                        home: str | None = None) -> str:
    """From the pending list (at `home` when the page is elsewhere), open the request, read it, approve it; -> the
    request page's text as the approver read it."""
    from playwright.sync_api import expect

    if home is not None:
        page.goto(home)
    expect(page.locator("h1")).to_have_text("Pending approvals")
    page.locator(f'tr.pending-row[data-approval-id="{approval_id}"] a').click()
    expect(page.locator("#action-json")).to_contain_text(kind)
    page.screenshot(path=str(shot), full_page=True)
    read = page.locator("body").text_content()  # the numbers behind the request are in a closed <details>
    page.fill("textarea[name=comment]", comment)
    page.click("button.approve")
    page.wait_for_url(f"**/incidents/{correlation}")
    return read


def keep_evidence(env: dict, tmp_path: Path, into: Path, logs: tuple[str, ...] = ("simulate.log",)) -> None:
    """The whole story and the traffic's logs, kept after the run (pytest's temp dirs rotate away)."""
    into.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "driftline", "audit", "replay"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    (into / "story.txt").write_text(result.stdout + result.stderr)
    for name in logs:
        if (tmp_path / name).exists():
            shutil.copy(tmp_path / name, into / name)
