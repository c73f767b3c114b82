"""End to end in headless Chromium (Playwright, Debian's /usr/bin/chromium): a real
uvicorn server and a real worker. Log in, filter jobs, open a job's attempts, retry
a dead job, pause and resume a schedule, edit a rate limit, see a live update
arrive without reloading; a screenshot of each view lands in tests/web/artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from chronoq import App, JobStatus
from tests.web.conftest import Tokens
from tests.web.test_pages import made_jobs
from tests.worker.helpers import running_worker, wait_until

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.timeout(240)
async def test_an_operator_session_in_a_real_browser(
    web_app: App, tokens: Tokens, served: str
) -> None:
    ok, dead = await made_jobs(web_app)  # its worker stored the schedule and the limits
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1300, "height": 900})
        csp_errors: list[str] = []
        page.on("console", lambda m: csp_errors.append(m.text)
                if "Content Security Policy" in m.text else None)  # fmt: skip
        try:
            await run_session(page, served, web_app, tokens, ok=ok, dead=dead)
        finally:
            await browser.close()
    assert csp_errors == []


async def run_session(
    page: Page, base: str, app: App, tokens: Tokens, *, ok: str, dead: str
) -> None:
    # Log in.
    await page.goto(base + "/jobs")
    await expect(page).to_have_url(base + "/login?next=%2Fjobs")
    await shot(page, "login")
    await page.fill("#token", tokens.admin)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base + "/jobs")

    # Filter jobs: the dead ones of the mail queue; the URL carries the filter.
    await page.select_option("select[name=status]", "dead")
    await page.select_option("select[name=queue]", "mail")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("table.jobs")).to_contain_text(dead)
    await expect(page.locator("table.jobs")).not_to_contain_text(ok)
    assert "status=dead" in page.url and "queue=mail" in page.url
    await shot(page, "jobs")

    # Open the job's attempts: the traceback is there.
    await page.click(f"a[href='/jobs/{dead}']")
    await expect(page.locator("ol.timeline")).to_contain_text("attempt 1")
    await expect(page.locator("pre.traceback")).to_contain_text("ValueError")
    await shot(page, "job")

    # Retry the dead job; a live worker runs it again (and it dies again).
    async with app.client() as client, running_worker(app, queues=["default", "mail"]):
        await page.click("#retry")
        await expect(page).to_have_url(base + f"/jobs/{dead}")

        async def ran_again() -> bool:
            job = await client.job(dead)
            return job.attempts == 2 and job.status is JobStatus.DEAD

        await wait_until(ran_again, timeout=20)
        await page.reload()
        await expect(page.locator("ol.timeline")).to_contain_text("attempt 2")

        # A live update arrives without reloading: a new job shows in the live feed.
        await page.goto(base + "/jobs")
        await expect(page.locator("body[data-live=open]")).to_have_count(1)
        fresh = await client.enqueue("add", 40, 2)
        await expect(page.locator("#job-events")).to_contain_text(fresh.id, timeout=10_000)
        await shot(page, "jobs-live")
        await page.goto(base + "/")
        await expect(page.locator("#queue-cards")).to_contain_text("default")
        await shot(page, "overview")

    # Pause the schedule with a reason, then resume it.
    await page.goto(base + "/schedules")
    row = page.locator("#schedule-nightly")
    await row.locator("input[name=reason]").fill("database migration")
    await row.locator("button", has_text="Pause").click()
    await expect(page.locator("#schedule-nightly [data-schedule-state]")).to_have_text("paused")
    await shot(page, "schedules-paused")
    await page.locator("#schedule-nightly button", has_text="Resume").click()
    await expect(page.locator("#schedule-nightly [data-schedule-state]")).to_have_text("active")

    # Edit the rate limit.
    await page.goto(base + "/limits")
    form = page.locator("#limit-partner form")
    await form.locator("input[name=rate]").fill("5/s")
    await form.locator("button", has_text="Save").click()
    await expect(page.locator("#limit-partner [data-rate]")).to_have_text("5/second")
    await shot(page, "limits")

    # Typed confirmation: the bulk button stays disabled until the word is typed.
    await page.goto(base + "/dead/bulk?action=requeue&queue=mail")
    button = page.locator("[data-confirm-button]")
    await expect(button).to_be_disabled()
    await page.fill("#confirm", "mail")
    await expect(button).to_be_enabled()
    await shot(page, "dead-bulk")

    for view in ("failures", "dead", "quotas", "workers", "health", "metrics", "alerts",
                 "audit"):  # fmt: skip
        await page.goto(f"{base}/{view}")
        await expect(page.locator("h1")).to_be_visible()
        await shot(page, view)
    await page.goto(f"{base}/metrics?range=7d")
    await shot(page, "metrics-7d")
    await page.goto(f"{base}/audit")
    for action in ("jobs.retry", "schedules.pause", "schedules.resume", "limits.update"):
        await expect(page.locator("table.audit")).to_contain_text(action)
