"""POST /campaign/addScheduledCampaign: a schedule of a campaign task with its
account, zone and limits; every bad field a problem naming it, nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import redis

from chronoq import App
from tests.api.conftest import Tokens, assert_problem

PATH = "/campaign/addScheduledCampaign"


def campaign(**changes: Any) -> dict[str, Any]:
    body = {"name": "spring-outreach", "task": "campaign.step", "cron": "0 9 * * mon-fri",
            "timezone": "Europe/Paris", "account": "acme", "kwargs": {"campaign_id": 7},
            "quota": "emails", "rate_limit": "linkedin"}  # fmt: skip
    return {**body, **changes}


async def test_a_campaign_is_a_schedule_with_its_next_runs(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    response = await http.post(PATH, json=campaign(), headers=tokens.header("admin"))
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["account"] == "acme" and made["timezone"] == "Europe/Paris"
    assert len(made["next_runs"]) == 5 and made["next_runs"][0].endswith("08:00:00Z")
    assert made["schedule"]["kwargs"] == {"campaign_id": 7, "account": "acme"}
    async with app.schedules() as schedules:
        stored = await schedules.get("spring-outreach")
    assert stored.definition.tz == "Europe/Paris" and stored.definition.task == "campaign.step"
    twice = await http.post(PATH, json=campaign(), headers=tokens.header("admin"))
    assert_problem(twice, 409)


async def test_bad_campaigns_name_the_field_and_store_nothing(
    http: httpx.AsyncClient, tokens: Tokens, raw: redis.Redis, prefix: str
) -> None:
    headers = tokens.header("admin")
    cases = {
        "body.cron": campaign(cron="0 25 * * *"),
        "body.timezone": campaign(timezone="Mars/Olympus"),
        "body.task": campaign(task="nope"),
        "body.start": campaign(start="2030-01-01T00:00:00"),
        "body.quota": campaign(quota="sms"),
        "body.rate_limit": campaign(rate_limit="emails"),
        "body.every": campaign(cron=None, every="soon"),
        "body.colour": campaign(colour="red"),
        "body.kwargs": campaign(kwargs={"campaign_id": 1, "extra": 2}),
    }
    for field, body in cases.items():
        assert_problem(await http.post(PATH, json=body, headers=headers), 422, field=field)
    both = campaign(every="1h")
    assert_problem(await http.post(PATH, json=both, headers=headers), 422, field="body.cron")
    assert not [k for k in raw.scan_iter(match=f"{prefix}:*") if "~sched" in k]
