"""End to end in headless Chromium, the operators' newer views: pause and resume a
queue from its overview card, a schedule's history (after a backfill from the
dashboard) and the 7-day calendar, the spec checked as it is typed, force-release
a lock, and a bulk requeue operation reaching done with its progress pushed live.
A screenshot of each new view lands in tests/web/artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, async_playwright, expect

from chronoq import App, JobStatus
from chronoq.core.errors import LockLost
from tests.web.conftest import Tokens
from tests.web.test_browser import CHROMIUM, shot
from tests.web.test_pages import made_jobs


@pytest.mark.timeout(240)
async def test_the_operators_views_in_a_real_browser(
    web_app: App, tokens: Tokens, served: str
) -> None:
    _, dead = await made_jobs(web_app)  # its worker stored the schedule and the limits
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1300, "height": 900})
        csp_errors: list[str] = []
        page.on("console", lambda m: csp_errors.append(m.text)
                if "Content Security Policy" in m.text else None)  # fmt: skip
        try:
            await page.goto(served + "/login")
            await page.fill("#token", tokens.admin)
            await page.click("button[type=submit]")
            await expect(page).to_have_url(served + "/")
            await queues(page, served, web_app)
            await schedules(page, served)
            await locks(page, served, web_app)
            await bulk_requeue(page, served, web_app, dead)
            for view in ("schedulers", "limits", "workers"):
                await page.goto(f"{served}/{view}")
                await expect(page.locator("h1")).to_be_visible()
                await shot(page, f"ops-{view}")
        finally:
            await browser.close()
    assert csp_errors == []


async def queues(page: Page, base: str, app: App) -> None:
    """Pause the mail queue from its overview card (an htmx post carrying the form
    token as a header), see it paused with the reason, resume it."""
    card = page.locator("article[data-queue=mail]")
    await card.locator("input[name=reason]").fill("SMTP provider down")
    await card.locator("button[data-pause]").click()
    # The page reloads after the action; on a loaded box the live card may lag a tick.
    await expect(card.locator("[data-queue-state]")).to_have_text("paused", timeout=15_000)
    await expect(card.locator("[data-pause-reason]")).to_contain_text("SMTP provider down")
    async with app.queue_admin() as admin:
        assert "mail" in await admin.paused()
    await shot(page, "overview-paused")
    await page.click("article[data-queue=mail] h2 a")
    await expect(page).to_have_url(base + "/queues/mail")
    await expect(page.locator("#pause-reason")).to_contain_text("SMTP provider down")
    await shot(page, "queue-paused")
    await page.click("#resume-queue")
    await expect(page.locator("[data-queue-state]")).to_have_text("active", timeout=15_000)
    async with app.queue_admin() as admin:
        assert await admin.paused() == {}
    await page.goto(base + "/queues/default/drain")
    await expect(page.locator("[data-confirm-button]")).to_be_disabled()
    await shot(page, "queue-drain")


async def schedules(page: Page, base: str) -> None:
    """Backfill two days from the schedule's page (dry run, typed name), see it in
    the history; the calendar; the create form's spec check as it is typed."""
    end = datetime.now(UTC).replace(microsecond=0)
    await page.goto(base + "/schedules/nightly")
    await page.click("text=Backfill a range…")
    await page.fill("input[name=start]", (end - timedelta(days=2)).isoformat())
    await page.fill("input[name=end]", end.isoformat())
    await page.click("#backfill-dry-run")
    await expect(page.locator("#dry-run-count")).to_have_text("2")
    await shot(page, "schedule-backfill")
    await page.fill("#confirm", "nightly")
    await page.click("[data-confirm-button]")
    await expect(page.locator("#backfilled")).to_contain_text("2 run(s) enqueued")
    await page.goto(base + "/schedules/nightly")
    await expect(page.locator("table.history")).to_contain_text("backfilled")
    await expect(page.locator("ol.planned li").first).to_be_visible()
    await shot(page, "schedule")
    await page.goto(base + "/schedules/calendar")
    tomorrow = page.locator("[data-calendar-schedule=nightly] td.runs").nth(1)
    await expect(tomorrow).to_have_text("1")  # at 03:00 Paris every day
    await shot(page, "schedule-calendar")
    await page.goto(base + "/schedules/new")
    await page.locator("#spec").press_sequentially("0 25 * * *")
    await expect(page.locator("[data-spec-check=bad]")).to_contain_text("hour")
    await page.fill("#spec", "")
    await page.locator("#spec").press_sequentially("*/30 9-17 * * mon-fri")
    await expect(page.locator("[data-spec-check=ok]")).to_contain_text("Next runs")
    await shot(page, "schedule-form")


async def locks(page: Page, base: str, app: App) -> None:
    with pytest.raises(LockLost):  # its holder finds out when it lets go
        async with app.lock("nightly-report", ttl=120, renew=False) as lock:
            await page.goto(base + "/locks")
            row = page.locator("#lock-nightly-report")
            await expect(row.locator("[data-lock-state]")).to_have_text("held")
            await expect(row.locator("[data-fence]")).to_have_text(str(lock.fence))
            await shot(page, "locks")
            await row.locator("text=Force release…").click()
            await expect(page.locator("[data-confirm-button]")).to_be_disabled()
            await page.fill("#confirm", "nightly-report")
            await page.click("[data-confirm-button]")
            await expect(page.locator("#released")).to_contain_text("Released")
            await shot(page, "lock-released")
            await page.goto(base + "/locks")
            await expect(row.locator("[data-lock-state]")).to_have_text("free")


async def bulk_requeue(page: Page, base: str, app: App, dead: str) -> None:
    await page.goto(base + "/dead?queue=mail")
    await page.click("text=Requeue all matching…")
    await expect(page.locator("#dry-run-count")).to_have_text("1")
    await page.fill("#confirm", "mail")
    await page.click("[data-confirm-button]")
    await expect(page.locator("[data-operation-state]")).to_have_text("done", timeout=20_000)
    await expect(page.locator("[data-outcome=requeued]")).to_have_text("1")
    await shot(page, "operation-done")
    async with app.client() as client:
        assert (await client.job(dead)).status is JobStatus.QUEUED
    await page.goto(base + "/operations")
    await expect(page.locator("table.operations")).to_contain_text("done")
    await shot(page, "operations")
