"""Rate-limit live state and hot keys, locks (list, force release) and the fleet of
workers and scheduler loops, through the managers' handles on a real Redis."""

from __future__ import annotations

import asyncio

import pytest

from chronoq import App, Client
from chronoq.control.limiter import Limiter, LimitRequest
from chronoq.core.errors import LimitNotFound, LockLost
from tests.worker.helpers import running_worker, wait_until


async def test_a_limits_live_state_and_hot_keys(app: App, client: Client) -> None:
    async with app.limits() as limits:
        await limits.set("api", "10/min", burst=2)
        limiter = Limiter(client.backend.limits)
        await limiter.decide("api", [LimitRequest("a")] * 3)
        await limiter.decide("api", [LimitRequest("b")])
        await limiter.decide("api", [LimitRequest("c")] * 2)
        state = await limits.state("api", top=2)
        assert (state.keys_tracked, state.keys_in_use, state.used) == (3, 3, 6)
        assert state.hottest == "a" and state.utilization == pytest.approx(0.3)
        assert state.tokens == 0  # a's burst (3 at once) is spent
        body = state.to_dict()
        assert (body["cap"], body["window"], body["window_seconds"]) == (10, "minute", 60.0)
        assert [k["key"] for k in body["hot_keys"]] == ["a", "c"]
        hot = await limits.hot_keys("api", 10)
        assert [(u.key, u.used) for u in hot] == [("a", 3), ("c", 2), ("b", 1)]
        assert hot[2].tokens == 2  # b used one of its three
        with pytest.raises(LimitNotFound):
            await limits.state("nope")


def test_a_quotas_state_through_the_sync_handle(app: App, client: Client) -> None:
    with app.quotas() as quotas:
        quotas.set("daily", 5, per="day")
        state = quotas.state("daily")
        assert (state.used, state.tokens, state.hottest) == (0, None, None)
        assert state.to_dict()["kind"] == "quota"


async def test_locks_are_listed_and_force_released(app: App) -> None:
    async with app.lock_admin() as admin:
        lock = app.lock("report", ttl=30)
        await lock.acquire()
        async with app.lock("other", ttl=30):
            pass  # acquired and released: listed as free
        listed = {i.name: i for i in await admin.list()}
        held = listed["report"]
        assert held.held and held.fence == lock.fence and held.holder
        assert held.holder != lock._lease.token  # a digest, never the secret token
        assert held.ttl_ms is not None and 25_000 < held.ttl_ms <= 30_000
        assert not listed["other"].held and listed["other"].ttl_ms is None
        assert [i.name for i in await admin.list(held_only=True)] == ["report"]
        stale = await admin.force_release("report", fence=held.fence + 1)
        assert not stale.released  # re-acquired since the operator looked: left alone
        forced = await admin.force_release("report", fence=held.fence)
        assert forced.released and forced.fence == held.fence
        assert forced.to_dict() == {"name": "report", "released": True, "fence": held.fence}
        async with app.lock("report", ttl=30) as successor:
            assert successor.fence > held.fence
        with pytest.raises(LockLost):
            await lock.release()  # the former holder learns it lost the lock
        assert not (await admin.force_release("report")).released  # free now


async def test_a_force_released_holder_is_told_by_its_renewal(app: App) -> None:
    lost: list[object] = []
    async with app.lock_admin() as admin:
        lock = app.lock("renewed", ttl=0.6, on_lost=lost.append)
        await lock.acquire()
        await admin.force_release("renewed")

        async def told() -> bool:
            return lock.lost

        await wait_until(told, timeout=5)
        assert lost
        with pytest.raises(LockLost):
            await lock.release()


async def test_the_scan_fallback_finds_locks_the_registry_missed(app: App, client: Client) -> None:
    async with app.lock("legacy", ttl=30), app.lock_admin() as admin:
        await client.backend.redis.delete(client.backend.keys.locks)
        assert await admin.list() == []
        found = await admin.list(scan=True)
        assert [(i.name, i.held) for i in found] == [("legacy", True)]
        assert (await admin.get("legacy")).held


async def test_the_fleet_reads_workers_and_scheduler_loops(app: App, client: Client) -> None:
    loops = client.backend.scheduler_loops
    async with running_worker(app, queues=["q1", "q2"], concurrency=3), app.fleet() as fleet:

        async def beating() -> bool:
            return bool(await fleet.workers())

        await wait_until(beating, timeout=10)
        (worker,) = await fleet.workers()
        body = worker.to_dict()
        assert body["queues"] == ["q1", "q2"] and body["concurrency"] == 3
        assert body["pid"] and body["started_at"]
        await loops.beat("gone", {"app": "test", "host": "h", "pid": 1, "fired": 4}, ttl=0.05)
        await asyncio.sleep(0.1)  # its hash expires: a loop that died without withdrawing
        by_id = {b.id: b for b in await fleet.schedulers()}
        assert not by_id["gone"].alive and by_id["gone"].to_dict()["alive"] is False
        alive = [b for b in by_id.values() if b.alive]
        assert alive  # the worker's own scheduler loop
        assert alive[0].to_dict()["app"] == "test"
