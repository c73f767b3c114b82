"""The campaign and workflow views in headless Chromium (Debian's /usr/bin/chromium),
served by uvicorn, a real worker running a campaign: the list, a campaign's page
with its steps, next sends, runs and forecast calendar, pause with a reason and
resume, its run's workflow as a tree down to a step's job; no CSP violation;
screenshots in tests/web/artifacts/."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright, expect

from chronoq import App
from chronoq.campaigns import campaigns
from tests.campaign_shell_app import add_campaign_tasks, later, spec
from tests.web.conftest import Tokens
from tests.web.test_browser import CHROMIUM, shot
from tests.worker.helpers import running_worker, wait_until

FIVE = [{"email": f"p{i}@x{i}.com"} for i in range(5)]
EACH = [{"name": "email", "task": "outreach.email", "each": True}]


@pytest.mark.timeout(240)
async def test_campaigns_and_workflows_in_a_real_browser(
    web_app: App, tokens: Tokens, served: str, redis_url: str, prefix: str
) -> None:
    add_campaign_tasks(web_app, redis_url, prefix)
    async with campaigns(web_app) as c:
        await c.create(later("autumn", steps=EACH, recipients=FIVE, pacing={"per_day": 2}))
        await c.create(spec("spring", pacing={"per_day": 1}))

        async def one_sent() -> bool:
            steps = {s.name: s for s in (await c.get("spring")).steps}
            return steps["email"].sent == 1 and steps["email"].pending == 2

        async with running_worker(web_app, burst=False, concurrency=4):
            await wait_until(one_sent, timeout=60, interval=0.2)
        current = (await c.get("spring")).current_run
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1300, "height": 900})
        csp: list[str] = []
        page.on("console", lambda m: csp.append(m.text)
                if "Content Security Policy" in m.text else None)  # fmt: skip
        try:
            await page.goto(served + "/login?next=%2Fcampaigns")
            await page.fill("#token", tokens.admin)
            await page.click("button[type=submit]")
            await expect(page).to_have_url(served + "/campaigns")
            await expect(page.locator("tr[data-campaign=spring] [data-state]")).to_have_text(
                "running"
            )
            await shot(page, "campaigns")
            await page.click("a[href='/campaigns/autumn']")
            await expect(page.locator("table.calendar.forecast [data-sends]")).to_have_count(3)
            await expect(page.locator("#forecast-text")).to_contain_text("(5 sends)")
            await shot(page, "campaign-forecast")
            await page.goto(served + "/campaigns/spring")
            await expect(page.locator("tr[data-step=email] [data-sent]")).to_have_text("1")
            await expect(page.locator("table.next-sends tbody tr")).to_have_count(2)
            await shot(page, "campaign")
            await page.fill("input[name=reason]", "checking replies")
            await page.click("#campaign-pause")
            await expect(page.locator("[data-campaign-state]")).to_have_text("paused")
            await expect(page.locator("#campaign-state")).to_contain_text("checking replies")
            await shot(page, "campaign-paused")
            await page.click("#campaign-resume")
            await expect(page.locator("[data-campaign-state]")).to_have_text("running")
            await page.click(f"a[href='/workflows/{current}']")
            await expect(page.locator("[data-workflow-status]")).to_have_text("running")
            await expect(page.locator("ol.workflow-tree > li.stage")).to_have_count(3)
            await shot(page, "workflow")
            await page.locator("ol.workflow-tree a[href^='/jobs/']").first.click()
            await expect(page.locator("#job-campaign")).to_have_text("spring")
            await page.goto(served + "/workflows")
            await expect(page.locator(f"tr[data-workflow='{current}']")).to_be_visible()
            await shot(page, "workflows")
        finally:
            await browser.close()
    assert csp == []
