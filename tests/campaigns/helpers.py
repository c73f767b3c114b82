"""A campaign app for tests: a search task returning recipients and an email step
that records each send in a Redis list (the side effect the tests count)."""

from __future__ import annotations

import time
from typing import Any

import redis

from chronoq import App
from chronoq.campaigns import CampaignContext, Campaigns, CampaignView, campaign_step, install
from tests.worker.helpers import wait_until


class CampaignApp:
    def __init__(self, redis_url: str, prefix: str, *, people: int = 5) -> None:
        self.app = App("cmp", redis_url=redis_url, prefix=prefix)
        self.app.settings.workflow_sweep = 0.05
        self.log = redis.Redis.from_url(redis_url, decode_responses=True)
        self.sends = f"{prefix}:sends"
        self.people = [f"P{i}@Example.com" for i in range(people)]
        install(self.app)
        sends, log = self.sends, self.log
        found = self.people

        @self.app.task(name="t.search", max_retries=0)
        def search(extra: int = 0) -> list[dict[str, Any]]:
            rows = [{"email": e, "name": f"P{i}", "company": "Acme"} for i, e in enumerate(found)]
            return rows + [{"email": f"x{i}@other.org"} for i in range(extra)]

        @self.app.task(name="t.broken_search", max_retries=0)
        def broken_search() -> list[dict[str, Any]]:
            raise RuntimeError("the search endpoint said 400")

        @campaign_step(self.app, name="t.email", max_retries=2)
        def email(recipient: dict[str, Any], ctx: CampaignContext) -> str:
            log.rpush(sends, f"{ctx.step}:{ctx.recipient.key}:{ctx.run}:{time.time():.3f}")
            return f"sent to {recipient['email']}"

        @campaign_step(self.app, name="t.slow_email", max_retries=2)
        def slow_email(recipient: dict[str, Any], ctx: CampaignContext) -> str:
            time.sleep(0.2)
            log.rpush(sends, f"{ctx.step}:{ctx.recipient.key}:{ctx.run}:{time.time():.3f}")
            return "ok"

    def sent(self) -> list[str]:
        """'<step>:<email>' of every send, in order."""
        return [":".join(s.split(":")[:2]) for s in self.log.lrange(self.sends, 0, -1)]

    def spec(self, name: str = "outreach", **changes: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "name": name,
            "account": "acct-1",
            "timezone": "Europe/Paris",
            "steps": [
                {"name": "search", "task": "t.search"},
                {"name": "email", "task": "t.email", "each": True},
            ],
            "schedule": {"every": "1h"},
        }
        return {**base, **changes}


async def ended(c: Campaigns, name: str, timeout: float = 30.0) -> CampaignView:
    """The campaign once its current run ended (it has run at least once)."""

    async def done() -> bool:
        view = await c.get(name)
        return view.runs > 0 and view.current_run is None

    await wait_until(done, timeout=timeout, interval=0.05)
    return await c.get(name)


async def run_now(c: Campaigns, name: str) -> dict[str, Any]:
    """Fire the campaign's run task as its schedule would, and wait for its result."""
    job = await c.client.enqueue("chronoq.campaigns.run", name)
    result: dict[str, Any] = await c.client.result(job.id, timeout=20)
    return result
