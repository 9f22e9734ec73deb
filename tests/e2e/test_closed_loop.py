"""The closed loop as a user meets it: `driftline up` with the shipped settings and policy, traffic from
`driftline simulate`, the approval given on the page in Chromium.

drift on important features -> a medium diagnosis before any label -> a retrain asked for -> approved on the page
-> the new version trained on today's labelled traffic, judged on it, promoted -> gateway and workers serve it ->
`driftline.action.verified` passed on the traffic it serves -> the incident resolved. Only the commands and the page a
user has are used (no bus or database access of the test's own), so the same checks hold with authentication on.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.loop import (
    PASSWORD,
    approve_on_the_page,
    keep_evidence,
    pending_retrain,
    run,
    served_versions,
    signed_in,
    story,
    wait_for,
)
from tests.e2e.test_up import ROOT, start_up, stop_up, up_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# 2.5 standard deviations on three of the champion's important features: predictions move at once (medium before
# labels); labels 20 s late confirm the harm. The traffic runs on through the repair and its verification.
DRIFT = ["--shift", "worst radius=2.5", "--shift", "mean radius=2.5", "--shift", "mean texture=2.5"]


@pytest.mark.timeout(1500)
def test_drift_is_repaired_and_verified_on_driftline_up_with_the_shipped_policy(tmp_path, artifacts_dir):
    from playwright.sync_api import sync_playwright

    env = up_env(tmp_path / "data")
    up, lines, _ = start_up(env)
    traffic, pw, browser = None, sync_playwright().start(), None
    try:
        wait_for("the first champion serving", lambda: "1" if served_versions(env) == ("1", "1") else None, 400)
        run(env, "users", "add", "bob", "--role", "approver", "--password-stdin", stdin=PASSWORD)
        traffic = subprocess.Popen(
            [sys.executable, "-m", "driftline", "simulate", "--rows", "90000", "--rate", "150", "--drift-at", "1500",
             *DRIFT, "--label-delay", "20", "--seed", "3"], cwd=ROOT, env=env,
            stdout=(tmp_path / "simulate.log").open("w"), stderr=subprocess.STDOUT)  # noqa: SIM115 (lives on)

        request = wait_for("a retrain asked for", lambda: pending_retrain(env), 240)
        chapters = story(env, request["correlation_id"])
        first = next(c for c in chapters if c["type"] == "diagnosis.made")
        assert "(medium" in first["what"] or "(high" in first["what"], first  # a harmful drift is not low
        assert any(c["type"] == "diagnosis.made" and "(medium" in c["what"] for c in chapters), chapters
        asked = next(c for c in chapters if c["type"] == "approval.requested")
        assert "retrain_model" in asked["what"]

        browser, page = signed_in(pw, env)
        approve_on_the_page(page, request["approval_id"], request["correlation_id"],
                            artifacts_dir / "closed-loop-1-request.png")
        approved_at = time.monotonic()
        done = wait_for("the retrain's outcome", lambda: next(
            (c for c in story(env, request["correlation_id"]) if c["type"] == "action.completed"
             and "retrain_model" in c["what"]), None), 600)
        assert "promoted to champion" in done["why"] + done["outcome"], done
        new = re.search(r"trained version (\d+)", done["why"] + done["what"] + done["outcome"]).group(1)
        assert new != "1"
        wait_for("the new champion on gateway and worker", lambda: True if served_versions(env) == (new, new) else None,
                 120, every=0.5)
        serving_s = time.monotonic() - approved_at

        verified = wait_for("the verification", lambda: next(
            (c for c in story(env, request["correlation_id"]) if c["type"] == "action.verified"), None), 400)
        assert verified["outcome"] == "verified", verified
        assert f"version {new} recovered" in verified["why"] or f"version {new} improved" in verified["why"], verified
        chapters = story(env, request["correlation_id"])
        types = [c["type"] for c in chapters]
        for expected in ("alert.raised", "diagnosis.made", "approval.requested", "approval.decided",
                         "action.scheduled", "action.started", "model.trained", "model.promoted",
                         "action.completed", "action.verified"):
            assert expected in types, f"{expected} missing from the story: {types}"
        decided = next(c for c in chapters if c["type"] == "approval.decided")
        assert decided["who"] == "bob" and "via web" in decided["what"], decided
        for _ in range(30):  # the incident page, where the approval left the approver; a read model: reload
            page.reload()
            if (status := page.locator("#incident-status").inner_text()) == "resolved by verification":
                break
            time.sleep(1)
        page.screenshot(path=str(artifacts_dir / "closed-loop-2-resolved.png"), full_page=True)
        assert status == "resolved by verification", status
        print({"incident": request["correlation_id"], "new_champion": new,
               "approval_to_serving_s": round(serving_s, 1), "verification": verified["why"],
               "chapters": len(chapters)})
    finally:
        if browser is not None:
            browser.close()
        pw.stop()
        if traffic is not None and traffic.poll() is None:
            traffic.send_signal(signal.SIGINT)
            traffic.wait(30)
        keep_evidence(env, tmp_path, artifacts_dir / "closed-loop")
        alive = stop_up(up)
        shutil.copytree(tmp_path / "data" / "logs", artifacts_dir / "closed-loop" / "logs", dirs_exist_ok=True)
    assert alive == [], f"left running: {alive}"

