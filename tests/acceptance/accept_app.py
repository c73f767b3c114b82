"""The app the acceptance tests run: a task that succeeds, one failing with a network
error (recoverable), one failing with a ValueError (application), a campaign task
under a quota and a rate limit. Redis URL and prefix come from CHRONOQ_REDIS_URL and
CHRONOQ_PREFIX, so the CLI and the worker processes share the test's keys."""

from __future__ import annotations

from chronoq import App

app = App("accept")
app.quota("emails", 100, per="day")
app.limit("linkedin", "30/h")


@app.task(name="send", queue="mail", max_retries=0)
async def send(to: str) -> str:
    return f"sent to {to}"


@app.task(name="fetch", max_retries=0)
async def fetch(url: str) -> None:
    raise ConnectionError(f"connection reset by {url}")


@app.task(name="parse", max_retries=0)
async def parse(n: int) -> None:
    raise ValueError(f"bad input {n}")


@app.task(name="campaign.step", account="{account}", quota="emails", rate_limit="linkedin")
async def step(account: str, campaign_id: int) -> str:
    return f"step of campaign {campaign_id} for {account}"
