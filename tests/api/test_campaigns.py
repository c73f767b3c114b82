"""/v1/campaigns: create from a spec (admin, Idempotency-Key, 201 + Location), list
by state, read one, pause/resume (operate), schedule/cancel (admin), forecast,
runs; a bad spec is a problem naming the field and stores nothing; a campaign
runs to completion under a real worker; `POST /campaign/addScheduledCampaign`
also makes a campaign."""

from __future__ import annotations

from typing import Any

import httpx
import redis

from chronoq import App
from tests.api.conftest import Tokens, assert_problem
from tests.campaign_shell_app import later, spec
from tests.worker.helpers import running_worker, wait_until

PATH = "/v1/campaigns"


async def test_create_read_list_and_replay(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    admin = {**tokens.header("admin"), "Idempotency-Key": "k1"}
    body = later("autumn")
    made = await http.post(PATH, json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert made.headers["location"] == "/v1/campaigns/autumn"
    view = made.json()
    assert view["name"] == "autumn" and view["state"] == "scheduled"
    assert view["spec"]["account"] == "acme" and [s["name"] for s in view["steps"]] == [
        "search", "email"]  # fmt: skip
    replay = await http.post(PATH, json=body, headers=admin)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    other = await http.post(PATH, json=later("other"), headers=admin)
    assert_problem(other, 422, field="header.Idempotency-Key")
    again = await http.post(PATH, json=body, headers=tokens.header("admin"))
    assert_problem(again, 409, field="body.name")
    draft = await http.post(PATH, params={"draft": "true"}, json=later("winter"),
                            headers=tokens.header("admin"))  # fmt: skip
    assert draft.status_code == 201 and draft.json()["state"] == "draft"
    read = tokens.header("read")
    names = [c["name"] for c in (await http.get(PATH, headers=read)).json()["campaigns"]]
    assert sorted(names) == ["autumn", "winter"]
    drafts = (await http.get(PATH, params={"state": "draft"}, headers=read)).json()
    assert [c["name"] for c in drafts["campaigns"]] == ["winter"]
    assert_problem(await http.get(PATH, params={"state": "asleep"}, headers=read), 422)
    one = await http.get(f"{PATH}/autumn", headers=read)
    assert one.status_code == 200 and one.json()["state"] == "scheduled"
    assert_problem(await http.get(f"{PATH}/nope", headers=read), 404)
    assert_problem(await http.get(f"{PATH}/Not%20A%20Name", headers=read), 422)
    for role in ("read", "operate"):
        refused = await http.post(PATH, json=later("x"), headers=tokens.header(role))
        assert_problem(refused, 403)
    assert (await http.get(PATH)).status_code == 401
    async with app.schedules() as schedules:
        assert (await schedules.get("campaign.autumn")).definition.task == "chronoq.campaigns.run"


async def test_a_bad_spec_names_the_field_and_stores_nothing(
    http: httpx.AsyncClient, tokens: Tokens, raw: redis.Redis, prefix: str
) -> None:
    headers = tokens.header("admin")
    steps = later()["steps"]
    cases: dict[str, dict[str, Any]] = {
        "body.colour": later(colour="red"),
        "body.name": later("Bad Name"),
        "body.timezone": later(timezone="Mars/Olympus"),
        "body.steps.1.task": later(steps=[steps[0], {**steps[1], "task": "nope"}]),
        "body.steps": later(steps=[]),
        "body.schedule.cron": later(schedule={"cron": "0 25 * * *"}),
        "body.schedule.once": later(schedule={"once": "2030-01-01T09:00:00"}),
        "body.schedule": later(schedule={"cron": "0 9 * * *", "every": "1d"}),
        "body.pacing.windows": later(pacing={"windows": ["someday 25:00-26:00"]}),
        "body.pacing.per_day": later(pacing={"per_day": "lots"}),
        "body.steps.0.after": later(steps=[{**steps[0], "after": "soon"}, steps[1]]),
    }
    for field, body in cases.items():
        problem = assert_problem(await http.post(PATH, json=body, headers=headers), 422)
        fields = [e["field"] for e in problem.get("errors", [])]
        assert any(f.startswith(field) for f in fields), (field, problem)
    assert not [k for k in raw.scan_iter(match=f"{prefix}:*") if "cmp" in k or "~sched" in k]


async def test_pause_resume_schedule_cancel_with_roles_and_audit(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    admin, operate, read = (tokens.header(r) for r in ("admin", "operate", "read"))
    assert (await http.post(PATH, json=later("autumn"), headers=admin)).status_code == 201
    assert_problem(await http.post(f"{PATH}/autumn/pause", headers=read), 403)
    paused = await http.post(f"{PATH}/autumn/pause", json={"reason": "holiday"}, headers=operate)
    assert paused.status_code == 200 and paused.json()["state"] == "paused", paused.text
    async with app.schedules() as schedules:
        assert (await schedules.get("campaign.autumn")).definition.paused
    resumed = await http.post(f"{PATH}/autumn/resume", headers=operate)
    assert resumed.json()["state"] == "scheduled"
    assert_problem(await http.post(f"{PATH}/autumn/cancel", headers=operate), 403)
    assert_problem(await http.post(f"{PATH}/nope/pause", headers=operate), 404)
    draft = await http.post(PATH, params={"draft": "1"}, json=later("winter"), headers=admin)
    assert draft.json()["state"] == "draft"
    assert_problem(await http.post(f"{PATH}/winter/schedule", headers=operate), 403)
    scheduled = await http.post(f"{PATH}/winter/schedule", headers=admin)
    assert scheduled.json()["state"] == "scheduled"
    cancelled = await http.post(f"{PATH}/autumn/cancel", headers=admin)
    assert cancelled.json()["state"] == "cancelled"
    assert_problem(await http.post(f"{PATH}/autumn/resume", headers=operate), 409)
    async with app.backend() as backend:
        entries = await backend.access.audit(limit=10)
    mine = [(e.action, e.target, e.actor) for e in entries if e.action.startswith("campaigns.")]
    assert mine == [
        ("campaigns.cancel", "autumn", "admin"),
        ("campaigns.schedule", "winter", "admin"),
        ("campaigns.create", "winter", "admin"),
        ("campaigns.resume", "autumn", "operate"),
        ("campaigns.pause", "autumn", "operate"),
        ("campaigns.create", "autumn", "admin"),
    ]
    assert entries[-1].detail.get("via") == "api"


async def test_the_forecast_against_the_caps(http: httpx.AsyncClient, tokens: Tokens) -> None:
    admin, read = tokens.header("admin"), tokens.header("read")
    forecast = await http.post(PATH, json=later("plan", pacing={"per_day": 2},
                               recipients=[{"email": f"p{i}@x{i}.com"} for i in range(5)],
                               steps=[{"name": "email", "task": "outreach.email",
                                       "each": True}]), headers=admin)  # fmt: skip
    assert forecast.status_code == 201, forecast.text
    found = (await http.get(f"{PATH}/plan/forecast", headers=read)).json()
    assert found["total"] == 5 and sorted(found["by_day"].values()) == [1, 2, 2], found
    assert found["text"].startswith("the last recipient is reached")
    assert len(found["slots"]) == 5 and found["last"]["email"] == "p4@x4.com"
    few = (await http.get(f"{PATH}/plan/forecast", params={"slots": 2}, headers=read)).json()
    assert len(few["slots"]) == 2 and few["total"] == 5
    assert_problem(await http.get(f"{PATH}/nope/forecast", headers=read), 404)
    bad_now = await http.get(f"{PATH}/plan/forecast", params={"now": "2030-01-01T00:00"},
                             headers=read)  # fmt: skip
    assert_problem(bad_now, 422, field="query.now")


async def test_a_campaign_run_by_a_real_worker_and_its_runs(
    http: httpx.AsyncClient, tokens: Tokens, app: App, raw: redis.Redis, prefix: str
) -> None:
    admin, read = tokens.header("admin"), tokens.header("read")
    assert (await http.post(PATH, json=spec("spring"), headers=admin)).status_code == 201

    async def completed() -> bool:
        got = (await http.get(f"{PATH}/spring", headers=read)).json()
        return bool(got["state"] == "completed")

    async with running_worker(app, burst=False, concurrency=4):
        await wait_until(completed, timeout=60, interval=0.2)
    view = (await http.get(f"{PATH}/spring", headers=read)).json()
    steps = {s["name"]: s for s in view["steps"]}
    assert (steps["search"]["total"], steps["search"]["sent"]) == (1, 1), view
    assert (steps["email"]["sent"], steps["email"]["pending"]) == (3, 0), view
    assert view["recipients"] == 3 and view["runs"] == 1
    runs = (await http.get(f"{PATH}/spring/runs", headers=read)).json()["runs"]
    assert [(r["run"], r["workflow"], r["status"]) for r in runs] == [
        (1, "cmp-spring-1", "completed")]  # fmt: skip
    sent = sorted(raw.lrange(f"{prefix}:sent", 0, -1))
    assert sent == sorted(f"spring:email:{e}" for e in
                          ("ana@example.com", "bo@example.org", "cy@example.net"))  # fmt: skip


async def test_add_scheduled_campaign_makes_a_scheduled_campaign(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    body = {"name": "seeds", "task": "campaign.step", "cron": "0 9 * * mon-fri",
            "timezone": "Europe/Paris", "account": "acme",
            "kwargs": {"campaign_id": 7}}  # fmt: skip
    made = await http.post("/campaign/addScheduledCampaign", json=body,
                           headers=tokens.header("admin"))  # fmt: skip
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["schedule"]["name"] == "campaign.seeds" and len(out["next_runs"]) == 5
    assert made.headers["location"] == "/v1/campaigns/seeds"
    campaign = out["campaign"]
    assert campaign["name"] == "seeds" and campaign["state"] == "scheduled"
    kwargs = {"campaign_id": 7, "account": "acme"}
    assert campaign["spec"]["steps"] == [
        {"name": "step", "task": "campaign.step", "each": False, "after": None, "kwargs": kwargs}
    ]
    assert campaign["spec"]["schedule"]["cron"] == "0 9 * * mon-fri"
    one = await http.get("/v1/campaigns/seeds", headers=tokens.header("read"))
    assert one.status_code == 200 and one.json()["spec"]["account"] == "acme"
    bad = {**body, "name": "Seeds"}  # a schedule name, not a campaign name
    refused = await http.post("/campaign/addScheduledCampaign", json=bad,
                              headers=tokens.header("admin"))  # fmt: skip
    assert_problem(refused, 422, field="body.name")
    async with app.schedules() as schedules:
        names = [info.definition.name for info in await schedules.list()]
    assert "Seeds" not in names and "campaign.Seeds" not in names and "campaign.seeds" in names


async def test_the_campaign_resources_are_documented(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    paths = document["paths"]
    one = f"{PATH}/{{name}}"
    for path, method in [(PATH, "get"), (PATH, "post"), (one, "get"), (f"{one}/pause", "post"),
                         (f"{one}/resume", "post"), (f"{one}/cancel", "post"),
                         (f"{one}/schedule", "post"), (f"{one}/forecast", "get"),
                         (f"{one}/runs", "get")]:  # fmt: skip
        assert paths[path][method]["summary"], (path, method)
    create = paths[PATH]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema.endswith("/CampaignSpec")
    out = create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert out.endswith("/Campaign")
    assert {"409", "422", "403"} <= set(create["responses"])
