"""The main job: `chronoq up` with no APP runs the bundled demo end to end on
loopback: its campaign's search finds the prospects and each gets the intro email
(at the demo's own SMTP server), its post is published on the TikTok emulator at
its time, its news source is scraped politely; then the dashboard's pages load in
headless Chromium with the admin token `up` printed."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright

from chronoq import App, CampaignNotFound, JobFilter, JobStatus
from chronoq.campaigns import campaigns
from chronoq.demo.loopback import PEOPLE
from chronoq.observe.search import JobSearch
from tests.acceptance.helpers import ROOT, env, free_port

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
PAGES = (
    "/",
    "/campaigns",
    "/campaigns/welcome-tour",
    "/workflows",
    "/jobs",
    "/schedules",
    "/limits",
    "/workers",
)


@contextmanager
def demo_up(redis_url: str, prefix: str, tmp: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    ports = {"CHRONOQ_DEMO_SMTP_PORT": free_port(), "CHRONOQ_DEMO_HTTP_PORT": free_port(),
             "CHRONOQ_DEMO_TIKTOK_PORT": free_port()}  # fmt: skip
    out = tmp / "up.out"
    command = [sys.executable, "-m", "chronoq", "up", "--redis-url", redis_url,
               "--prefix", prefix, "--dashboard-port", str(port)]  # fmt: skip
    with out.open("w") as sink:
        up = subprocess.Popen(
            command, cwd=ROOT, env={**env(), **{k: str(v) for k, v in ports.items()}},
            stdout=sink, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            yield f"http://127.0.0.1:{port}", out
        finally:
            os.killpg(up.pid, signal.SIGINT)
            try:
                up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()
    assert up.returncode == 0, out.read_text()[-3000:]


async def succeeded(app: App, task: str) -> int:
    async with app.client() as client:
        found, _ = await JobSearch(client.backend).count(
            JobFilter(task=task, status=JobStatus.SUCCEEDED)
        )
    return found


async def wait_for(probe, what: str, out: Path, within: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await probe():
            return
        await asyncio.sleep(0.5)
    tail = out.read_text()[-3000:]  # noqa: ASYNC240 (a test's failure message)
    raise AssertionError(f"the demo did not {what} within {within}s:\n{tail}")


@pytest.mark.timeout(240)
async def test_chronoq_up_runs_the_bundled_demo_and_its_dashboard_loads(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    app = App("demo-check", redis_url=redis_url, prefix=prefix)
    with demo_up(redis_url, prefix, tmp_path) as (base, out):

        async def campaign_sent() -> bool:
            async with campaigns(app) as c:
                try:
                    view = await c.get("welcome-tour")
                except CampaignNotFound:  # the demo is starting
                    return False
            intro = next(s for s in view.steps if s.name == "intro")
            return intro.sent == len(PEOPLE)

        await wait_for(campaign_sent, "send the intro to every prospect", out)
        await wait_for(lambda: _at_least(app, "posting.publish", 1), "publish its post", out)
        await wait_for(lambda: _at_least(app, "demo.scrape_page", 3), "scrape the stories", out)

        printed = out.read_text()
        assert f"dashboard and API: {base}/" in printed
        token = re.search(r"log in with (cq_\w+)", printed)
        assert token is not None, printed
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base}/healthz")).status_code == 200
        await _browse(base, token.group(1))


async def _at_least(app: App, task: str, count: int) -> bool:
    return await succeeded(app, task) >= count


async def _browse(base: str, token: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1300, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: _failed(errors, r.status, r.url))
            await page.goto(base + "/login")
            await page.fill("#token", token)
            await page.click("button[type=submit]")
            await page.wait_for_url(base + "/")
            for path in PAGES:
                response = await page.goto(base + path)
                assert response is not None and response.status == 200, path
                if path == "/campaigns/welcome-tour":
                    text = await page.inner_text("main")
                    assert "intro" in text and "follow-up" in text, text[:500]
                name = path.strip("/").replace("/", "-") or "overview"
                await page.screenshot(path=str(ARTIFACTS / f"demo-{name}.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()


def _failed(errors: list[str], status: int, url: str) -> None:
    if status >= 400:
        errors.append(f"{status} {url}")
