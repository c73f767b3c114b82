"""Lock contention and losses are counted in Redis, per lock family, when they
really happen (a lease running out, a paused holder, a waiter timing out); a free
acquire and release count nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from chronoq import App
from chronoq.core.errors import LockLost, LockTimeout
from chronoq.core.ops import FAMILY_CAP, OTHER, lock_family
from chronoq.redis.keys import Keyspace


@pytest.fixture(autouse=True)
def _close_sync_connections(app: App) -> Iterator[None]:
    yield
    if "coordinator" in app.__dict__:
        app.coordinator.close_sync()


def counts(raw: redis.Redis, prefix: str) -> dict[str, int]:
    """The lifetime lock counts, as `family<TAB>event` -> n."""
    totals = raw.hgetall(Keyspace(prefix).ops.totals)
    return {k.removeprefix("lock\t"): int(v) for k, v in totals.items() if k.startswith("lock\t")}


def minute_counts(raw: redis.Redis, prefix: str) -> dict[str, int]:
    keys = Keyspace(prefix).ops
    bucket = keys.bucket("m", int(time.time() * 1000) // 60_000)
    return {k: int(v) for k, v in raw.hgetall(bucket).items() if k.startswith("lock\t")}


def test_the_family_is_the_name_up_to_its_first_colon() -> None:
    assert lock_family("report:2024-06") == "report"
    assert lock_family("plain") == "plain"
    assert lock_family(":odd") == OTHER
    assert lock_family("tab\there:x") == OTHER


async def test_a_free_acquire_counts_nothing(app: App, prefix: str, raw: redis.Redis) -> None:
    async with app.lock("report:1", ttl=5):
        pass
    assert await app.lock("report:1").try_acquire()
    assert counts(raw, prefix) == {}
    assert raw.exists(Keyspace(prefix).ops.lock_families) == 0


async def test_a_lease_that_runs_out_counts_one_loss(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    told: list[LockLost] = []
    lock = app.lock("report:2024-06", ttl=0.2, renew=False, on_lost=told.append)
    await lock.acquire()
    await asyncio.sleep(0.35)  # the lease really expires on the server
    assert len(told) == 1
    with pytest.raises(LockLost):
        await lock.release()
    assert counts(raw, prefix) == {"report\tlost": 1}  # once: the watcher, not release too
    assert minute_counts(raw, prefix) == {"lock\treport\tlost": 1}


async def test_a_paused_holder_counts_a_loss_when_it_wakes(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    lock = app.lock("paused:1", ttl=0.2)
    await lock.acquire()
    time.sleep(0.3)  # noqa: ASYNC251 (blocks the loop on purpose: renewal cannot run)
    assert await app.lock("paused:1").try_acquire()  # someone else has it now
    with pytest.raises(LockLost):
        await lock.release()
    assert counts(raw, prefix)["paused\tlost"] == 1


async def test_a_waiter_that_times_out_counts_contention_and_a_timeout(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    holder = app.lock("job:7", ttl=5)
    await holder.acquire()
    with pytest.raises(LockTimeout):
        await app.lock("job:7", timeout=0.05).acquire()
    assert not await app.lock("job:7").try_acquire()
    waiter = asyncio.create_task(app.lock("job:7", timeout=5).acquire())
    await asyncio.sleep(0.05)
    await holder.release()
    await asyncio.wait_for(waiter, 5)  # waited, then took it: contended, no timeout
    assert counts(raw, prefix) == {"job\tcontended": 3, "job\ttimeout": 1}


def test_sync_locks_count_the_same(app: App, prefix: str, raw: redis.Redis) -> None:
    holder = app.sync_lock("sync:a", ttl=0.2, renew=False)
    holder.acquire()
    with pytest.raises(LockTimeout):
        app.sync_lock("sync:a", timeout=0.01).acquire()
    time.sleep(0.35)
    with pytest.raises(LockLost):
        holder.release()
    assert counts(raw, prefix) == {"sync\tcontended": 1, "sync\ttimeout": 1, "sync\tlost": 1}


async def test_families_past_the_cap_count_as_other(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    holders = [app.lock(f"f{i}:x", ttl=5) for i in range(FAMILY_CAP + 2)]
    for lock in holders:
        await lock.acquire()
    for i in range(FAMILY_CAP + 2):
        assert not await app.lock(f"f{i}:x").try_acquire()
    found = counts(raw, prefix)
    assert len(found) == FAMILY_CAP + 1
    assert found[f"{OTHER}\tcontended"] == 2
    assert raw.scard(Keyspace(prefix).ops.lock_families) == FAMILY_CAP
    for lock in holders:
        await lock.release()


async def test_metrics_off_counts_no_lock_event(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    app = App("off", redis_url=redis_url, prefix=prefix)
    app.settings.metrics = False
    holder = app.lock("quiet:1", ttl=0.15, renew=False)
    await holder.acquire()
    assert not await app.lock("quiet:1").try_acquire()
    await asyncio.sleep(0.3)
    with pytest.raises(LockLost):
        await holder.release()
    assert counts(raw, prefix) == {}
