"""The demo's domain: an outreach campaign (a search, an intro email to each
prospect, a follow-up a minute later), a post published at an exact time in its
author's zone, and a news site scraped politely, all against the loopback
platforms of chronoq.demo.loopback, which the app's start-up hook starts.

`install(app)` adds all of it to an app: the bundled `chronoq.demo:app` (`chronoq
up` with no APP runs it, the README's first command). It is written
as a user's own app would be: the public API, the campaigns package and the
connectors, nothing internal. The platforms listen on fixed loopback ports
(`CHRONOQ_DEMO_SMTP_PORT`, `CHRONOQ_DEMO_HTTP_PORT`, `CHRONOQ_DEMO_TIKTOK_PORT`,
default 8025, 8766 and 8767) so that jobs enqueued by one run of the demo find
them in the next.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chronoq import App, CampaignNotFound, JobRequest, Task
from chronoq.campaigns import CampaignContext, campaign_step, campaigns
from chronoq.campaigns import install as install_campaigns
from chronoq.connectors.email import EmailConnector, EmailTemplate, SmtpServer
from chronoq.connectors.http import (
    Page,
    PoliteFetcher,
    Priority,
    SearchClient,
    SearchEndpoint,
    Source,
    Sources,
)
from chronoq.connectors.posting import Poster, TikTokClient, TikTokEmulator
from chronoq.demo.loopback import (
    HOST,
    SEARCH_TOKEN,
    HttpSandbox,
    SmtpSandbox,
    site,
    start_http,
    start_smtp,
)

log = logging.getLogger("chronoq.demo")
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line at INFO

CAMPAIGN = "welcome-tour"
ACCOUNT = "acme"
AUTHOR = "acme-studio"
SENDER = "hello"
SOURCE = "news"
STORY_LINK = re.compile(r'href="(/news/\d+)"')
POST_DELAY = 20.0  # seconds after start-up the demo's post is due
CLIENT_KEY, CLIENT_SECRET = "demo-client-key", "demo-client-secret"
INTRO = EmailTemplate(
    subject="Hello {{ name }}, meet chronoq",
    text="Hi {{ name }},\n\nchronoq sent this inside your sending hours ({{ zone }}).\n",
)
FOLLOW_UP = EmailTemplate(
    subject="Following up, {{ name }}",
    text="Hi {{ name }},\n\na follow-up: each step reaches each recipient once.\n",
)


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class Ports:
    smtp: int = field(default_factory=lambda: _port("CHRONOQ_DEMO_SMTP_PORT", 8025))
    http: int = field(default_factory=lambda: _port("CHRONOQ_DEMO_HTTP_PORT", 8766))
    tiktok: int = field(default_factory=lambda: _port("CHRONOQ_DEMO_TIKTOK_PORT", 8767))

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http}"

    @property
    def tiktok_url(self) -> str:
        return f"http://{HOST}:{self.tiktok}"


@dataclass
class Platforms:
    """The loopback platforms this process started (the start-up hook's)."""

    smtp: SmtpSandbox | None = None
    http: HttpSandbox | None = None
    tiktok: TikTokEmulator | None = None

    def stop(self) -> None:
        for running in (self.smtp, self.http, self.tiktok):
            if running is not None:
                running.stop()
        self.smtp = self.http = self.tiktok = None


@dataclass
class Demo:
    """What `install` added to the app."""

    app: App
    ports: Ports
    mail: EmailConnector
    poster: Poster
    sources: Sources
    platforms: Platforms = field(default_factory=Platforms)
    scrape: Task | None = None

    def campaign_spec(self, start: datetime) -> dict[str, Any]:
        """Three runs ten minutes apart: the first enrolls the prospects the search
        finds; the later ones find nobody new (a recipient is enrolled once)."""
        return {
            "name": CAMPAIGN,
            "account": ACCOUNT,
            "timezone": "Europe/Paris",
            "steps": [
                {"name": "search", "task": "demo.find_prospects", "kwargs": {"query": "python"}},
                {"name": "intro", "task": "demo.send_intro", "each": True},
                {"name": "follow-up", "task": "demo.send_follow_up", "each": True, "after": "1m"},
            ],
            "schedule": {"every": "10m", "start": start.isoformat()},
            "pacing": {
                "per_day": 50,
                "per_domain_per_day": 20,
                "warmup": {"start": 20, "step": 10},
            },
            "max_runs": 3,
            "max_recipients": 100,
        }


def install(app: App, ports: Ports | None = None) -> Demo:
    """Add the demo's campaign, post and scraping source to `app`."""
    install_campaigns(app)
    ports = ports or Ports()
    mail = EmailConnector(app, SmtpServer(HOST, ports.smtp, security="none"))  # loopback
    mail.sender(SENDER, "hello@acme.example", rate="10/s")
    poster = Poster(app, TikTokClient(ports.tiktok_url, CLIENT_KEY, CLIENT_SECRET), rate=None)
    poster.account(AUTHOR, zone="America/New_York")
    sources = Sources()
    sources.add(Source(SOURCE, ports.http_url, priority=Priority.HIGH,
                       requests_per_hour=600, tz="Europe/Paris",
                       respectful_hours={"sat-sun 00:00-24:00": "60/h"}))  # fmt: skip
    demo = Demo(app, ports, mail, poster, sources)
    _declare_tasks(demo)
    sources.declare(app, _required(demo.scrape))

    @app.startup
    async def start_the_tour(started: App) -> None:
        await _start(demo)

    @app.shutdown
    async def stop_the_platforms(stopped: App) -> None:
        demo.platforms.stop()

    return demo


def _required(task: Task | None) -> Task:
    assert task is not None
    return task


def _declare_tasks(demo: Demo) -> None:
    app = demo.app

    @app.task(name="demo.find_prospects", max_retries=3)
    async def find_prospects(query: str) -> list[dict[str, Any]]:
        """The campaign's search step: a paginated, token-authenticated search."""
        endpoint = SearchEndpoint(demo.ports.http_url, token=SEARCH_TOKEN)
        async with app.client() as client:
            search = SearchClient(client, endpoint)
            try:
                return await search.run(query)
            finally:
                await search.aclose()

    async def send(
        template: EmailTemplate, recipient: dict[str, Any], ctx: CampaignContext
    ) -> dict[str, Any]:
        email = recipient["email"]
        sent = await demo.mail.send(
            key=ctx.ledger_key, sender=SENDER, to=email, template=template,
            context={"name": recipient.get("name") or "there",
                     "zone": recipient.get("zone") or "your zone"},
            unsubscribe_url=f"https://acme.example/unsubscribe?to={email}",
        )  # fmt: skip
        return sent.to_dict()

    @campaign_step(app, name="demo.send_intro", queue="mail")
    async def send_intro(recipient: dict[str, Any], ctx: CampaignContext) -> dict[str, Any]:
        return await send(INTRO, recipient, ctx)

    @campaign_step(app, name="demo.send_follow_up", queue="mail")
    async def send_follow_up(recipient: dict[str, Any], ctx: CampaignContext) -> dict[str, Any]:
        return await send(FOLLOW_UP, recipient, ctx)

    @app.task(name="demo.scrape", queue="scraping", rate_limit="source:{source}")
    async def scrape(source: str) -> dict[str, Any]:
        """The news index, politely (robots.txt and its Crawl-delay, the source's
        limit, conditional GET), then one job per story it links to: the source's
        rate limit spaces them, a request per job."""
        page = await _fetch(source, "/news/")
        paths = sorted(set(STORY_LINK.findall(page.text))) if not page.unchanged else []
        async with app.client() as client:
            await client.enqueue_many(
                [JobRequest(scrape_page, kwargs={"source": source, "path": p}) for p in paths]
            )
        return {"status": page.status, "stories": paths}

    @app.task(name="demo.scrape_page", queue="scraping", rate_limit="source:{source}")
    async def scrape_page(source: str, path: str) -> dict[str, Any]:
        """One story; unchanged since the last scrape: a 304, nothing downloaded."""
        page = await _fetch(source, path)
        return {"path": path, "status": page.status, "bytes": len(page.content)}

    async def _fetch(source: str, path: str) -> Page:
        fetcher = PoliteFetcher(app, demo.sources, user_agent="chronoq-demo")
        try:
            return await fetcher.fetch(source, path)
        finally:
            await fetcher.aclose()

    demo.scrape = scrape


async def _start(demo: Demo) -> None:
    """Start the loopback platforms, then the campaign, the post and the scrape."""
    p, ports = demo.platforms, demo.ports
    p.smtp = start_smtp(ports.smtp)
    p.http = start_http(site(), ports.http)
    p.tiktok = TikTokEmulator(port=ports.tiktok, client_key=CLIENT_KEY, client_secret=CLIENT_SECRET)
    p.tiktok.start()
    log.warning(
        "demo platforms on loopback: SMTP %s:%d, search and news %s, TikTok emulator %s",
        HOST, ports.smtp, ports.http_url, ports.tiktok_url,
    )  # fmt: skip
    now = datetime.now(UTC)
    await _campaign(demo, now)
    await _post(demo, now)
    async with demo.app.client() as client:
        await client.enqueue(_required(demo.scrape), source=SOURCE)


async def _campaign(demo: Demo, now: datetime) -> None:
    async with campaigns(demo.app) as c:
        try:
            await c.get(CAMPAIGN)
        except CampaignNotFound:  # the demo's first run
            await c.create(demo.campaign_spec(now + timedelta(seconds=2)))


async def _post(demo: Demo, now: datetime) -> None:
    emulator = demo.platforms.tiktok
    assert emulator is not None
    await demo.poster.tokens.store(AUTHOR, emulator.platform.authorize(AUTHOR))
    video = Path(tempfile.gettempdir()) / "chronoq-demo.mp4"
    video.write_bytes(os.urandom(256 * 1024))
    at = now + timedelta(seconds=POST_DELAY)
    await demo.poster.schedule_post(
        f"demo-{at:%Y%m%d-%H%M%S}", at=at, account=AUTHOR, video=str(video),
        title="Published by chronoq at its exact time",
    )  # fmt: skip
