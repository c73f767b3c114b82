"""The campaign app the shells' tests (API, CLI, dashboard) share: campaigns
installed, a search step returning recipients, and an email step per recipient
that records each send in a Redis list (the side effect a test counts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from chronoq import App
from chronoq.campaigns import CampaignContext, campaign_step, install

PEOPLE = ["ana@example.com", "bo@example.org", "cy@example.net"]


def add_campaign_tasks(app: App, redis_url: str, prefix: str) -> str:
    """Install campaigns and the two step tasks on `app`; returns the Redis list
    key each send is pushed to ("<campaign>:<step>:<email>")."""
    install(app)
    sent = f"{prefix}:sent"
    log = redis.Redis.from_url(redis_url, decode_responses=True)

    @app.task(name="outreach.search")
    async def search(people: list[str] | None = None) -> list[dict[str, Any]]:
        return [{"email": e} for e in (people or PEOPLE)]

    @campaign_step(app, name="outreach.email")
    async def email(recipient: dict[str, Any], ctx: CampaignContext) -> str:
        log.rpush(sent, f"{ctx.campaign}:{ctx.step}:{recipient['email']}")
        return f"sent to {recipient['email']}"

    return sent


def spec(name: str = "spring", **changes: Any) -> dict[str, Any]:
    """A campaign: a search, then an email to each recipient found, running once
    now (a second from now), no windows or caps."""
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    body: dict[str, Any] = {
        "name": name,
        "account": "acme",
        "timezone": "Europe/Paris",
        "steps": [
            {"name": "search", "task": "outreach.search"},
            {"name": "email", "task": "outreach.email", "each": True},
        ],
        "schedule": {"once": soon},
    }
    return {**body, **changes}


def later(name: str = "autumn", **changes: Any) -> dict[str, Any]:
    """A campaign whose one run is a day away (it stays scheduled in a test)."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return spec(name, **{"schedule": {"once": tomorrow}, **changes})
