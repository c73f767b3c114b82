"""Bulk operations through the API: POST /v1/dead/operations (202 and a Location to
poll), GET /v1/operations[/{id}], POST /v1/operations/{id}/cancel; the API process
runs them itself."""

from __future__ import annotations

import asyncio

import httpx
import redis

from chronoq import App
from chronoq.api import create_api
from chronoq.redis.keys import Keyspace
from tests.api.conftest import BASE, Tokens, assert_problem
from tests.bulk.helpers import make_dead


async def dead(app: App, n: int, task: str = "flaky", queue: str = "default") -> list[str]:
    async with app.client() as c:
        return await make_dead(c, n, task=task, queue=queue)


async def until_final(http: httpx.AsyncClient, location: str, tokens: Tokens) -> dict:  # type: ignore[type-arg]
    async with asyncio.timeout(20):
        while True:
            shown = (await http.get(location, headers=tokens.header("read"))).json()
            if shown["state"] in ("done", "cancelled", "failed"):
                return shown  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)


async def test_a_bulk_requeue_is_202_then_done_by_the_api_process(
    http: httpx.AsyncClient, tokens: Tokens, app: App, raw: redis.Redis, prefix: str
) -> None:
    ids = await dead(app, 40)
    await dead(app, 5, task="send")
    body = {"kind": "requeue", "filter": "task:flaky", "edits": {"priority": 3}}
    made = await http.post("/v1/dead/operations", json=body, headers=tokens.header("operate"))
    assert made.status_code == 202, made.text
    location = made.headers["location"]
    assert location == f"/v1/operations/{made.json()['id']}"
    assert made.json()["filter_text"] == "task:flaky status:dead"
    done = await until_final(http, location, tokens)
    assert done["state"] == "done" and done["counts"]["requeued"] == 40
    assert done["progress"] == {"processed": 40, "total": 40, "fraction": 1.0}
    assert done["actor"] == "operate"
    q = Keyspace(prefix).queue("default")
    assert {raw.hget(q.job(i), "prio") for i in ids} == {"3"}
    audit = (await http.get("/v1/audit", headers=tokens.header("read"))).json()["entries"]
    actions = [(e["action"], e["actor"]) for e in audit if e["target"] == done["id"]]
    assert actions == [("operations.done", "operate"), ("operations.create", "operate")]
    listed = (await http.get("/v1/operations", headers=tokens.header("read"))).json()
    assert [op["id"] for op in listed["operations"]] == [done["id"]]


async def test_the_same_idempotency_key_gives_the_same_operation(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    await dead(app, 3)
    headers = {**tokens.header("operate"), "Idempotency-Key": "bulk-1"}
    body = {"kind": "resolve", "edits": {"note": "outage"}, "dry_run": True}
    first = await http.post("/v1/dead/operations", json=body, headers=headers)
    again = await http.post("/v1/dead/operations", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    other = await http.post("/v1/dead/operations", json={**body, "dry_run": False},
                            headers=headers)  # fmt: skip
    assert_problem(other, 422, field="header.Idempotency-Key")
    done = await until_final(http, first.headers["location"], tokens)
    assert done["dry_run"] and done["counts"]["resolved"] == 3


async def test_bad_requests_are_problems_and_create_nothing(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    post = "/v1/dead/operations"
    operate, admin = tokens.header("operate"), tokens.header("admin")
    assert_problem(await http.post(post, json={"kind": "purge"}, headers=operate), 403)
    assert_problem(await http.post(post, json={"kind": "requeue"}, headers=tokens.header("read")),
                   403)  # fmt: skip
    bad = await http.post(post, json={"kind": "requeue", "filter": "colour:red"}, headers=admin)
    assert "unknown key 'colour'" in assert_problem(bad, 422, field="body.filter")["detail"]
    wrong = await http.post(post, json={"kind": "requeue", "filter": "status:succeeded"},
                            headers=admin)  # fmt: skip
    assert_problem(wrong, 422, field="body.filter")
    edit = await http.post(post, json={"kind": "purge", "edits": {"priority": 1}}, headers=admin)
    assert_problem(edit, 422, field="body.edits")
    assert_problem(await http.post(post, json={"kind": "retry"}, headers=admin), 422)
    assert_problem(await http.post(post, json={"kind": "purge", "typo": 1}, headers=admin), 422)
    assert (await http.get("/v1/operations", headers=operate)).json()["operations"] == []
    assert_problem(await http.get("/v1/operations/nope", headers=operate), 404)
    assert_problem(await http.post("/v1/operations/nope/cancel", headers=operate), 404)
    assert_problem(await http.get("/v1/operations?cursor=xyz", headers=operate), 422,
                   field="query.cursor")  # fmt: skip


async def test_cancel_and_pages_without_a_runner(app: App, tokens: Tokens) -> None:
    await dead(app, 4)
    api = create_api(app, run_operations=False)
    transport = httpx.ASGITransport(app=api)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            headers = tokens.header("admin")
            made = []
            for _ in range(3):
                reply = await http.post("/v1/dead/operations", json={"kind": "purge"},
                                        headers=headers)  # fmt: skip
                made.append(reply.json()["id"])
                await asyncio.sleep(0.002)  # each its own millisecond
            cancelled = await http.post(f"/v1/operations/{made[0]}/cancel", headers=headers)
            assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
            first = (await http.get("/v1/operations?limit=2", headers=headers)).json()
            assert [op["id"] for op in first["operations"]] == [made[2], made[1]]
            rest = await http.get(f"/v1/operations?limit=2&cursor={first['next_cursor']}",
                                  headers=headers)  # fmt: skip
            assert [op["id"] for op in rest.json()["operations"]] == [made[0]]
            assert rest.json()["next_cursor"] is None
            pending = (await http.get(f"/v1/operations/{made[1]}", headers=headers)).json()
            assert (pending["state"], pending["progress"]["total"]) == ("pending", None)
    finally:
        await api.state.chronoq.close()
