"""POST /campaign/addScheduledCampaign: a scheduled campaign of one step (a campaign
task with its account, zone and limits); every bad field a problem naming it, nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import redis

from chronoq import App
from chronoq.api import create_api
from tests.api.conftest import Tokens, assert_problem
from tests.api.live import serving
from tests.worker.helpers import running_worker, wait_until

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
    assert made["campaign"]["state"] == "scheduled"
    assert made["campaign"]["spec"]["steps"][0]["kwargs"] == {"campaign_id": 7, "account": "acme"}
    assert made["schedule"]["name"] == "campaign.spring-outreach"
    async with app.schedules() as schedules:
        stored = await schedules.get("campaign.spring-outreach")
    assert stored.definition.tz == "Europe/Paris"
    assert stored.definition.task == "chronoq.campaigns.run"
    assert (await http.get("/v1/campaigns/spring-outreach", headers=tokens.header("read"))
            ).json()["state"] == "scheduled"  # fmt: skip
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


async def test_a_campaign_scheduled_through_the_api_runs_to_success(
    app: App, tokens: Tokens
) -> None:
    """End to end: uvicorn serves the API, a worker with its scheduler loop fires the
    schedule, the job runs with the campaign's account, and the API shows it."""
    body = campaign(name="every-second", cron=None, every="1s", max_runs=1)
    with serving(create_api(app)) as url:
        async with httpx.AsyncClient(base_url=url, headers=tokens.header("admin")) as http:
            made = await http.post(PATH, json=body, headers={"Idempotency-Key": "c1"})
            assert made.status_code == 201, made.text
            out = made.json()
            assert made.headers["location"] == "/v1/campaigns/every-second"
            assert out["spec"] == "@every 1s" and out["account"] == "acme"
            step = out["campaign"]["spec"]["steps"][0]
            assert step["kwargs"] == {"campaign_id": 7, "account": "acme"}
            replay = await http.post(PATH, json=body, headers={"Idempotency-Key": "c1"})
            assert replay.json() == out and replay.headers["idempotent-replayed"] == "true"

            async def ran() -> bool:
                found = await http.get("/v1/jobs", params={"filter": "task:campaign.step"})
                return any(j["status"] == "succeeded" for j in found.json()["jobs"])

            async with running_worker(app, burst=False):
                await wait_until(ran, timeout=15, interval=0.1)
            (job,) = (await http.get("/v1/jobs", params={"task": "campaign.step"})).json()["jobs"]
            detail = (await http.get(f"/v1/jobs/{job['id']}")).json()
    assert detail["kwargs"] == {"campaign_id": 7, "account": "acme"}
    assert detail["account"] == "acme" and detail["result"] == "step of campaign 7 for acme"
    assert [a["outcome"] for a in detail["timeline"]] == ["succeeded"]
    async with app.backend() as backend:
        (entry, *_) = await backend.access.audit()
    assert (entry.action, entry.target, entry.actor) == ("campaigns.add", "every-second", "admin")


async def test_the_campaign_models_are_documented(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    operation = document["paths"][PATH]["post"]
    assert operation["summary"] and operation["description"]
    schemas = document["components"]["schemas"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    response = operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    for ref in (request, response):
        schema = schemas[ref.rsplit("/", 1)[1]]
        assert schema["description"], ref
        undocumented = [n for n, p in schema["properties"].items() if not p.get("description")]
        assert undocumented == [], (ref, undocumented)
    assert {"409", "422"} <= set(operation["responses"])
