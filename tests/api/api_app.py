"""The app the API tests serve: a mail task, a failing one, a campaign task under a
quota and a rate limit, and campaigns installed with the shells' step tasks."""

from __future__ import annotations

from chronoq import App
from tests.campaign_shell_app import add_campaign_tasks


def make_app(redis_url: str, prefix: str) -> App:
    app = App("api-test", redis_url=redis_url, prefix=prefix)
    app.quota("emails", 100, per="day")
    app.limit("linkedin", "30/h")

    @app.task(name="send", queue="mail", max_retries=2)
    async def send(to: str, subject: str = "") -> str:
        return f"sent {subject} to {to}"

    @app.task(name="campaign.step", account="{account}", quota="emails", rate_limit="linkedin")
    async def step(account: str, campaign_id: int) -> str:
        return f"step of campaign {campaign_id} for {account}"

    @app.task(name="flaky", max_retries=0)
    async def flaky(n: int) -> None:
        raise ValueError(f"bad input {n}")

    add_campaign_tasks(app, redis_url, prefix)
    return app
