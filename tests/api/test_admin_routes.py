"""Rate limits and quotas (CRUD, live state, hot keys), locks (list, force release),
workers, scheduler loops, and queue pause/resume/drain over HTTP."""

from __future__ import annotations

import httpx
import pytest

from chronoq import App, JobStatus
from chronoq.client import JobRequest
from chronoq.control.limiter import Limiter, LimitRequest
from chronoq.core.errors import LockLost
from tests.api.conftest import Tokens, assert_problem


async def test_rate_limits_crud_state_and_hot_keys(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    admin, read = tokens.header("admin"), tokens.header("read")
    body = {"rate": "10/min", "burst": 1, "windows": ["mon-sun 00:00-24:00"]}
    assert_problem(
        await http.put("/v1/limits/api", json=body, headers=tokens.header("operate")), 403
    )
    put = await http.put("/v1/limits/api", json=body, headers=admin)
    assert put.status_code == 200 and put.json()["limit"] == 10
    got = await http.get("/v1/limits/api", headers=read)
    stale = await http.put("/v1/limits/api", json={**body, "rate": "5/min"},
                           headers={**admin, "If-Match": '"nope"'})  # fmt: skip
    assert_problem(stale, 412)
    assert_problem(await http.put("/v1/limits/api", json={"rate": "ten"}, headers=admin), 422)
    async with app.client() as c:
        limiter = Limiter(c.backend.limits)
        await limiter.decide("api", [LimitRequest("acme")] * 2)
        await limiter.decide("api", [LimitRequest("globex")])
    state = (await http.get("/v1/limits/api/state", headers=read)).json()
    assert state["cap"] == 10 and state["window"] == "minute" and state["used"] == 3
    assert state["hottest"] == "acme" and state["utilization"] == 0.2
    hot = (await http.get("/v1/limits/api/hot-keys", params={"top": 1}, headers=read)).json()
    assert [k["key"] for k in hot] == ["acme"]
    assert_problem(await http.get("/v1/limits/nope/state", headers=read), 404)
    deleted = await http.delete(
        "/v1/limits/api", headers={**admin, "If-Match": got.headers["etag"]}
    )
    assert deleted.json()["status"] == "removed"
    names = [limit["name"] for limit in (await http.get("/v1/limits", headers=read)).json()]
    assert ("api" not in names and "linkedin" in names) or "api" not in names


async def test_quotas_crud_state_and_usage(http: httpx.AsyncClient, tokens: Tokens) -> None:
    admin, read = tokens.header("admin"), tokens.header("read")
    put = await http.put("/v1/quotas/sends", json={"limit": 3, "per": "hour"}, headers=admin)
    assert put.status_code == 200 and put.json()["kind"] == "quota"
    assert_problem(await http.put("/v1/quotas/sends", json={"limit": 0}, headers=admin), 422)
    assert_problem(await http.get("/v1/limits/sends", headers=read), 404)  # not a rate limit
    state = (await http.get("/v1/quotas/sends/state", headers=read)).json()
    assert state["cap"] == 3 and state["tokens"] is None
    usage = await http.get("/v1/quotas/sends/usage", params={"account": ["a1"]}, headers=read)
    assert [u["key"] for u in usage.json()] == ["a1"] and usage.json()[0]["used"] == 0
    assert (await http.delete("/v1/quotas/sends", headers=admin)).status_code == 200
    assert_problem(await http.delete("/v1/quotas/sends", headers=admin), 404)


async def test_locks_list_and_force_release(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    lock = app.lock("export", ttl=30)
    await lock.acquire()
    listed = await http.get("/v1/locks", params={"held": True}, headers=tokens.header("read"))
    (info,) = listed.json()
    assert info["name"] == "export" and info["fence"] == lock.fence and info["ttl"] > 25
    url = "/v1/locks/export/release"
    assert_problem(await http.post(url, headers=tokens.header("operate")), 403)
    stale = await http.post(url, json={"fence": lock.fence + 1}, headers=tokens.header("admin"))
    assert stale.json()["released"] is False
    done = await http.post(url, json={"reason": "hung"}, headers=tokens.header("admin"))
    assert done.json() == {"name": "export", "released": True, "fence": lock.fence}
    with pytest.raises(LockLost):
        await lock.release()
    async with app.backend() as backend:
        (entry, *_) = await backend.access.audit()
    assert (entry.action, entry.target, entry.detail["reason"]) == (
        "locks.release",
        "export",
        "hung",
    )


async def test_workers_and_scheduler_loops(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    async with app.backend() as backend:
        await backend.broker.heartbeat("w1", {"id": "w1", "queues": "a,b", "pid": 7}, ttl=30)
        await backend.scheduler_loops.beat("loop1", {"app": "api-test", "fired": 2}, ttl=30)
    (worker,) = (await http.get("/v1/workers", headers=tokens.header("read"))).json()
    assert worker["id"] == "w1" and worker["queues"] == ["a", "b"] and worker["pid"] == 7
    (loop,) = (await http.get("/v1/schedulers", headers=tokens.header("read"))).json()
    assert loop["id"] == "loop1" and loop["alive"] and loop["fired"] == 2


async def test_queue_pause_resume_and_drain(
    http: httpx.AsyncClient, tokens: Tokens, app: App
) -> None:
    op = tokens.header("operate")
    async with app.client() as c:
        made = await c.enqueue_many([JobRequest("send", ["x"]) for _ in range(3)])
    paused = await http.post("/v1/queues/mail/pause", json={"reason": "smtp down"}, headers=op)
    assert paused.json()["paused"] and paused.json()["by"] == "operate"
    row = (await http.get("/v1/queues/mail", headers=op)).json()
    assert row["paused"] and row["paused_reason"] == "smtp down"
    assert (await http.post("/v1/queues/mail/resume", headers=op)).json()["resumed"] is True
    assert_problem(await http.post("/v1/queues/mail/drain", headers=op), 403)  # admin only
    drained = await http.post("/v1/queues/mail/drain", headers=tokens.header("admin"))
    assert drained.json()["cancelled"] == 3
    async with app.client() as c:
        assert (await c.job(made[0].id)).status is JobStatus.CANCELLED
    assert_problem(await http.post("/v1/queues/mail/pause", json={"why": "x"}, headers=op), 422)
    assert_problem(await http.post("/v1/queues/mial/pause", headers=op), 404)  # a typo
    assert "mial" not in [row["queue"] for row in (await http.get("/v1/queues", headers=op)).json()]
