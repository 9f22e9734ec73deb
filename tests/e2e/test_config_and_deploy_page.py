"""The page's Configuration view and the models view's deploy form, in real headless Chromium: the history shows
version, time, approver and old -> new; a deployment of a version the registry lacks is refused by name with no
request made; a real version becomes a pending request another person must decide."""

from __future__ import annotations

import asyncio

import pytest

from schemas import ConfigChanged
from tests.e2e import test_approval_page as approval_page
from tests.model_fixtures import register_simple_model

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
ARGS, CHROMIUM = approval_page.ARGS, approval_page.CHROMIUM
served = approval_page.served  # the page, the projector and the relay on a free port (a fixture)


async def test_configuration_history_and_a_deploy_request_from_the_models_view(served, bus, settings, artifacts_dir):
    from playwright.async_api import async_playwright, expect

    url, pool = served
    await asyncio.to_thread(register_simple_model, settings)
    await asyncio.to_thread(register_simple_model, settings, C=0.05, seed=1)  # version 2, champion
    await bus.publish(ConfigChanged(source="agent/executor", subject=settings.model_name, data=dict(
        version=1, config={"worker_batch": 40}, approved_by="bob", approval_id="ap-cfg", action_id="a1",
        reason="smaller batches for latency",
        changes=[dict(key="worker_batch", old=settings.worker_batch, new=40, owner="worker")])))

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

            await page.click("nav >> text=Configuration")
            for _ in range(100):  # the projector writes the event into the read model a moment after it is stored
                if await page.locator("#config-history").count():
                    break
                await asyncio.sleep(0.1)
                await page.reload()
            row = page.locator('#config-history tr[data-version="1"]')
            await expect(row).to_contain_text("bob")
            await expect(row).to_contain_text(f"worker_batch {settings.worker_batch} → 40")
            await expect(row).to_contain_text("smaller batches for latency")
            await expect(page.locator("#config-version")).to_have_text("1")
            await expect(page.locator('#config-current tr[data-key="worker_batch"] .value')).to_have_text("40")
            await expect(page.locator('#config-current tr[data-key="gateway_batch_max"] .value')).to_have_text(
                str(settings.gateway_batch_max))
            await page.screenshot(path=str(artifacts_dir / "config-history.png"), full_page=True)

            await page.click("nav >> text=Models")
            await page.fill("#deploy-form input[name=version]", "7")
            await page.fill("#deploy-form input[name=reason]", "try it")
            await page.click("#deploy-form button[type=submit]")
            await expect(page.locator("p.error")).to_contain_text(
                "version '7' of driftline-classifier does not exist in the registry (its versions are 1, 2)")
            assert await pool.fetchval("SELECT count(*) FROM approvals") == 0

            await page.click("nav >> text=Models")
            await page.fill("#deploy-form input[name=version]", "1")
            await page.fill("#deploy-form input[name=reason]", "version 2 misses the old segment")
            await page.click("#deploy-form button[type=submit]")
            await page.wait_for_url("**/approvals/*")
            await expect(page.locator("body")).to_contain_text("ada asks to deploy driftline-classifier version 1")
            await page.screenshot(path=str(artifacts_dir / "deploy-request.png"), full_page=True)
            row = await pool.fetchrow("SELECT status, requested_by, action FROM approvals")
            assert (row["status"], row["requested_by"]) == ("pending", "ada")
            assert '"deploy_model"' in row["action"] and '"version": "1"' in row["action"]
        finally:
            await browser.close()
