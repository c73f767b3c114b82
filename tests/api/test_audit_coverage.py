"""Every state-changing operation of the OpenAPI document writes exactly one audit
entry, the action its `x-audit` names (a bulk operation's by the library), or is
marked `x-audit-exempt` with its reason. Walks the document, so a route added
without either fails here; each audited one is called for real (a recipe below)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chronoq import App, Client
from chronoq.api import create_api
from tests.api.conftest import BASE, Tokens
from tests.campaign_shell_app import later
from tests.observe.history import run_jobs

READS = {"get", "head", "options"}


@dataclass
class Ctx:
    http: httpx.AsyncClient
    client: Client
    app: App
    tag: int  # each recipe's names are its own

    async def dead(self) -> str:
        (job_id,) = await run_jobs(self.client, "flaky", 1, error=ValueError("boom"))
        return job_id

    async def post(self, path: str, body: Any = None) -> Any:
        response = await self.http.post(path, json=body)
        assert response.status_code < 300, response.text
        return response.json()


Call = tuple[str, Any]  # the concrete path, the JSON body (None: none)
Recipe = Callable[[Ctx], Awaitable[Call]]
HOOK = {"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s", "retries": 0,
        "timeout": 1}  # fmt: skip
RULE = {"kind": "queue_length", "threshold": 100}
HOUR = {"task": "send", "spec": "@every 1h", "args": ["x"]}
PAST = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:00:00Z"}


async def _job(c: Ctx) -> str:
    made = await c.post("/v1/jobs", {"task": "send", "args": ["x"], "queue": f"q{c.tag}"})
    return str(made["id"])


async def _group(c: Ctx) -> str:
    await c.dead()
    (group, *_) = (await c.http.get("/v1/dead/groups")).json()
    return str(group["fingerprint"])


async def _operation(c: Ctx) -> str:
    return str((await c.post("/v1/dead/operations", {"kind": "resolve", "filter": ""}))["id"])


async def _stored(c: Ctx, path: str, body: Any) -> str:
    assert (await c.http.put(path, json=body)).status_code == 200
    return path


async def _schedule(c: Ctx) -> str:
    await c.post("/v1/schedules", {"name": f"s{c.tag}", **HOUR})
    return f"/v1/schedules/s{c.tag}"


async def _paused(c: Ctx) -> str:
    path = await _schedule(c)
    await c.post(f"{path}/pause", {"reason": "x"})
    return path


async def _queue(c: Ctx) -> str:
    await _job(c)
    return f"/v1/queues/q{c.tag}"


async def _paused_queue(c: Ctx) -> str:
    path = await _queue(c)
    await c.post(f"{path}/pause", {"reason": "x"})
    return path


async def _held(c: Ctx) -> str:
    assert await c.app.lock(f"export{c.tag}", ttl=30, renew=False).try_acquire()
    return f"/v1/locks/export{c.tag}"


async def _silenced(c: Ctx) -> str:
    await c.post("/v1/silences", {"rule": "queue_length", "duration": 60, "reason": "x"})
    return "/v1/silences/queue_length"


async def _campaign(c: Ctx, *, draft: bool = False, paused: bool = False) -> str:
    path = "/v1/campaigns?draft=true" if draft else "/v1/campaigns"
    await c.post(path, later(f"cmp{c.tag}"))
    if paused:
        await c.post(f"/v1/campaigns/cmp{c.tag}/pause", {"reason": "x"})
    return f"/v1/campaigns/cmp{c.tag}"


RECIPES: dict[str, Recipe] = {
    "post /v1/jobs": lambda c: _const("/v1/jobs", {"task": "send", "args": ["x"]}),
    "post /v1/jobs/{job_id}/cancel": lambda c: _path(_job(c), "/v1/jobs/{}/cancel"),
    "post /v1/jobs/{job_id}/retry": lambda c: _path(c.dead(), "/v1/jobs/{}/retry"),
    "delete /v1/jobs/{job_id}": lambda c: _path(c.dead(), "/v1/jobs/{}"),
    "post /v1/dead/{job_id}/requeue": lambda c: _path(c.dead(), "/v1/dead/{}/requeue"),
    "post /v1/dead/{job_id}/resolve": lambda c: _path(c.dead(), "/v1/dead/{}/resolve"),
    "post /v1/dead/groups/{fingerprint}/resolve": lambda c: _path(
        _group(c), "/v1/dead/groups/{}/resolve"
    ),
    "delete /v1/dead/{job_id}": lambda c: _path(c.dead(), "/v1/dead/{}"),
    "post /v1/dead/operations": lambda c: _const(
        "/v1/dead/operations", {"kind": "requeue", "filter": "task:flaky"}
    ),
    "post /v1/operations/{operation_id}/cancel": lambda c: _path(
        _operation(c), "/v1/operations/{}/cancel"
    ),
    "put /v1/alerts/rules/{name}": lambda c: _const(f"/v1/alerts/rules/r{c.tag}", RULE),
    "delete /v1/alerts/rules/{name}": lambda c: _path(
        _stored(c, f"/v1/alerts/rules/r{c.tag}", RULE), "{}"
    ),
    "post /v1/silences": lambda c: _const(
        "/v1/silences", {"rule": "queue_length", "duration": 60, "reason": "deploy"}
    ),
    "delete /v1/silences/{rule}": lambda c: _path(_silenced(c), "{}"),
    "put /v1/channels/{name}": lambda c: _const(f"/v1/channels/ops{c.tag}", HOOK),
    "post /v1/channels/{name}/test": lambda c: _path(
        _stored(c, f"/v1/channels/ops{c.tag}", HOOK), "{}/test"
    ),
    "delete /v1/channels/{name}": lambda c: _path(
        _stored(c, f"/v1/channels/ops{c.tag}", HOOK), "{}"
    ),
    "post /campaign/addScheduledCampaign": lambda c: _const(
        "/campaign/addScheduledCampaign",
        {
            "name": f"c{c.tag}",
            "task": "campaign.step",
            "every": "1h",
            "account": "acme",
            "kwargs": {"campaign_id": 1},
        },
    ),
    "post /v1/campaigns": lambda c: _const("/v1/campaigns", later(f"cmp{c.tag}")),
    "post /v1/campaigns/{name}/pause": lambda c: _path(_campaign(c), "{}/pause"),
    "post /v1/campaigns/{name}/resume": lambda c: _path(_campaign(c, paused=True), "{}/resume"),
    "post /v1/campaigns/{name}/schedule": lambda c: _path(_campaign(c, draft=True), "{}/schedule"),
    "post /v1/campaigns/{name}/cancel": lambda c: _path(_campaign(c), "{}/cancel"),
    "post /v1/schedules": lambda c: _const("/v1/schedules", {"name": f"s{c.tag}", **HOUR}),
    "patch /v1/schedules/{name}": lambda c: _with(_schedule(c), {"jitter": 5}),
    "delete /v1/schedules/{name}": lambda c: _path(_schedule(c), "{}"),
    "post /v1/schedules/{name}/pause": lambda c: _path(_schedule(c), "{}/pause"),
    "post /v1/schedules/{name}/resume": lambda c: _path(_paused(c), "{}/resume"),
    "post /v1/schedules/{name}/trigger": lambda c: _path(_schedule(c), "{}/trigger"),
    "post /v1/schedules/{name}/backfill": lambda c: _with(_schedule(c), PAST, "/backfill"),
    "put /v1/limits/{name}": lambda c: _const(f"/v1/limits/l{c.tag}", {"rate": "10/min"}),
    "delete /v1/limits/{name}": lambda c: _path(
        _stored(c, f"/v1/limits/l{c.tag}", {"rate": "10/min"}), "{}"
    ),
    "put /v1/quotas/{name}": lambda c: _const(f"/v1/quotas/q{c.tag}", {"limit": 100}),
    "delete /v1/quotas/{name}": lambda c: _path(
        _stored(c, f"/v1/quotas/q{c.tag}", {"limit": 100}), "{}"
    ),
    "post /v1/locks/{name}/release": lambda c: _path(_held(c), "{}/release"),
    "post /v1/queues/{name}/pause": lambda c: _path(_queue(c), "{}/pause"),
    "post /v1/queues/{name}/resume": lambda c: _path(_paused_queue(c), "{}/resume"),
    "post /v1/queues/{name}/drain": lambda c: _path(_queue(c), "{}/drain"),
}


async def _with(made: Awaitable[str], body: Any, suffix: str = "") -> Call:
    return await made + suffix, body


async def _const(path: str, body: Any) -> Call:
    return path, body


async def _path(made: Awaitable[str], template: str) -> Call:
    return template.format(await made), None


@pytest.fixture
async def audited_http(app: App, tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of an API whose bulk runner is off (its own `operations.done`
    entries would land while a request is checked)."""
    api = create_api(app, run_operations=False, rate="off")
    transport = httpx.ASGITransport(app=api)
    headers = tokens.header("admin")
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers) as http:
        yield http
    await api.state.chronoq.close()


async def _entries(client: Client) -> list[str]:
    return [e.id for e in await client.backend.access.audit(limit=1000)]


async def test_every_state_change_writes_exactly_one_audit_entry(
    audited_http: httpx.AsyncClient, client: Client, app: App
) -> None:
    document = (await audited_http.get("/openapi.json")).json()
    unmarked, untested, exempt, checked = [], [], [], set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in READS:
                continue
            key = f"{method} {path}"
            if operation.get("x-audit-exempt"):
                exempt.append(key)  # its reason is in the document
                continue
            action = operation.get("x-audit")
            if not action:
                unmarked.append(key)
                continue
            recipe = RECIPES.get(key)
            if recipe is None:
                untested.append(key)
                continue
            ctx = Ctx(audited_http, client, app, len(checked))
            target, body = await recipe(ctx)
            before = set(await _entries(client))
            response = await audited_http.request(method, target, json=body)
            assert response.status_code < 300, (key, response.text)
            entries = await client.backend.access.audit(limit=1000)
            new = [e for e in entries if e.id not in before]
            assert [e.action for e in new] == [action], (key, [e.action for e in new])
            assert new[0].actor == "admin", key
            checked.add(key)
    assert not unmarked, f"non-GET operations neither audited nor exempt: {unmarked}"
    assert not untested, f"audited operations without a recipe in this test: {untested}"
    assert checked == set(RECIPES), f"recipes of no operation: {set(RECIPES) - checked}"
    assert exempt == ["post /v1/schedules/validate"]  # a new exemption is a decision: list it
