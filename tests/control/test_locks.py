"""Distributed locks and once-keys against a real Redis."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from chronoq import App
from chronoq.control.locks import Lock
from chronoq.core.errors import ConfigurationError, LockLost, LockTimeout
from chronoq.redis.keys import Keyspace, LockKeys


@pytest.fixture(autouse=True)
def _close_sync_connections(app: App) -> Iterator[None]:
    yield
    if "coordinator" in app.__dict__:
        app.coordinator.close_sync()


def keys(prefix: str, name: str) -> LockKeys:
    return Keyspace(prefix).lock(name)


# -- acquire, release, try ---------------------------------------------------


async def test_acquire_and_release(app: App, prefix: str, raw: redis.Redis) -> None:
    k = keys(prefix, "report")
    async with app.lock("report", ttl=5) as lock:
        assert lock.held and not lock.lost
        token = raw.get(k.holder)
        assert token and len(token) == 32
        assert 4000 < raw.pttl(k.holder) <= 5000
    assert not lock.held and not lock.lost
    assert raw.exists(k.holder) == 0
    assert raw.lrange(k.wake, 0, -1) == ["1"]  # a release leaves one wake token
    assert 0 < raw.pttl(k.wake) <= 5000
    await lock.acquire()  # the object can be used again
    assert raw.get(k.holder) not in (None, token)  # with a fresh token
    await lock.release()


async def test_try_acquire_fails_while_held(app: App, prefix: str, raw: redis.Redis) -> None:
    holder = app.lock("job")
    assert await holder.try_acquire()
    other = app.lock("job")
    assert not await other.try_acquire()
    assert not other.held
    with pytest.raises(LockTimeout, match=r"lock 'job' is held by another holder \(blocking"):
        await app.lock("job", blocking=False).acquire()
    with pytest.raises(RuntimeError, match="not reentrant"):
        await holder.acquire()
    await holder.release()
    assert await other.try_acquire()
    await other.release()
    with pytest.raises(RuntimeError, match="not held"):
        await other.release()


async def test_async_lock_refuses_plain_with(app: App) -> None:
    with pytest.raises(TypeError, match=r"use `async with app.lock"), app.lock("x"):
        pass


async def test_blocking_acquire_is_woken_by_the_release(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = 0
    attempt = Lock._attempt

    async def counting(self: Lock, *args: object) -> int | None:
        nonlocal attempts
        attempts += 1
        return await attempt(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Lock, "_attempt", counting)
    holder = app.lock("wake", ttl=20)
    await holder.acquire()
    waiter = app.lock("wake", ttl=20, timeout=10)

    async def release_later() -> float:
        await asyncio.sleep(0.3)
        await holder.release()
        return time.monotonic()

    releasing = asyncio.create_task(release_later())
    await waiter.acquire()
    got = time.monotonic()
    released = await releasing
    # Woken by the release, not by the holder's 20 s lease running out...
    assert got - released < 0.1, got - released
    # ... and not by polling: holder's try, waiter's first try, the try after the wake.
    assert attempts == 3, attempts
    assert waiter.fence == holder.fence + 1
    await waiter.release()


async def test_waiter_takes_over_when_the_holders_lease_runs_out(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    raw.set(keys(prefix, "dead").holder, "a holder that died", px=500)
    started = time.monotonic()
    async with app.lock("dead", timeout=5) as lock:
        waited = time.monotonic() - started
        assert lock.held
    assert 0.45 < waited < 0.9, waited


async def test_timeout_names_the_lock_and_the_wait(app: App) -> None:
    holder = app.lock("slow", ttl=10)
    await holder.acquire()
    started = time.monotonic()
    with pytest.raises(LockTimeout) as caught:
        await app.lock("slow", timeout=0.3).acquire()
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 0.8, elapsed
    message = str(caught.value)
    assert "lock 'slow' not acquired within its timeout of 0.3 s (waited 0." in message
    assert caught.value.name == "slow" and caught.value.waited >= 0.3
    assert isinstance(caught.value, TimeoutError)
    with pytest.raises(LockTimeout):
        await app.lock("slow", timeout=0).acquire()
    await holder.release()


async def test_a_cancelled_acquire_never_leaves_the_lock_taken(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    lock = app.lock("cancel")
    cancelled = taken = 0
    for i in range(200):
        try:
            async with asyncio.timeout(i % 10 * 0.0001):
                await lock.acquire()
        except TimeoutError:
            cancelled += 1
            assert not lock.held
            assert raw.exists(keys(prefix, "cancel").holder) == 0, f"leaked at try {i}"
        else:
            taken += 1
            await lock.release()
    assert cancelled > 0 and taken > 0, (cancelled, taken)


# -- fencing -------------------------------------------------------------------


async def test_fences_strictly_increase_per_name(app: App) -> None:
    seen: list[int] = []
    for _ in range(5):
        async with app.lock("a") as lock:
            seen.append(lock.fence)
        with app.sync_lock("a") as slock:
            seen.append(slock.fence)
    assert seen == sorted(set(seen)) and len(seen) == 10
    async with app.lock("b") as other:
        assert other.fence == 1  # names count independently
    async with app.lock("a") as again:
        assert again.fence == seen[-1] + 1
    with pytest.raises(RuntimeError, match="never acquired"):
        _ = app.lock("c").fence


async def test_fences_from_concurrent_contenders_are_unique_and_ordered(app: App) -> None:
    order: list[int] = []

    async def contend() -> None:
        for _ in range(10):
            async with app.lock("busy", timeout=10) as lock:
                order.append(lock.fence)
                await asyncio.sleep(0)

    await asyncio.gather(*(contend() for _ in range(4)))
    assert order == list(range(1, 41))  # handed out in the order holders got the lock


# -- lost leases ----------------------------------------------------------------


async def test_expired_holder_cannot_release_the_new_holders_lock(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    k = keys(prefix, "exp")
    old = app.lock("exp", ttl=0.2, renew=False)
    await old.acquire()
    await asyncio.sleep(0.3)
    assert old.lost and not old.held
    new = app.lock("exp", ttl=5)
    assert await new.try_acquire()
    assert new.fence == old.fence + 1
    new_token = raw.get(k.holder)
    with pytest.raises(LockLost, match=r"lock 'exp' \(fence 1\) was lost: its lease ran out"):
        await old.release()
    assert old.lost and not old.held
    assert raw.get(k.holder) == new_token  # untouched
    await new.release()


async def test_release_finds_the_token_taken_over(app: App, prefix: str, raw: redis.Redis) -> None:
    k = keys(prefix, "over")
    lock = app.lock("over", ttl=30)  # renewal (every 10 s) will not notice in time
    await lock.acquire()
    raw.set(k.holder, "someone else", px=30000)
    with pytest.raises(LockLost, match="release found its token gone") as caught:
        await lock.release()
    assert caught.value.name == "over" and caught.value.fence == lock.fence
    assert raw.get(k.holder) == "someone else"


async def test_renewal_keeps_the_lock_past_several_ttls(
    app: App, prefix: str, raw: redis.Redis
) -> None:
    lock = app.lock("long", ttl=0.3)
    await lock.acquire()
    rival = app.lock("long")
    for _ in range(12):  # 1.2 s: four ttls
        await asyncio.sleep(0.1)
        assert lock.held
        assert not await rival.try_acquire()
    assert raw.pttl(keys(prefix, "long").holder) > 100
    await lock.release()  # no LockLost


@pytest.mark.parametrize("how", ["delete", "overwrite"])
async def test_lost_lease_is_reported_within_a_renewal_interval(
    app: App, prefix: str, raw: redis.Redis, how: str
) -> None:
    told: list[tuple[float, LockLost]] = []
    called = asyncio.Event()

    def on_lost(error: LockLost) -> None:
        told.append((time.monotonic(), error))
        called.set()

    lock = app.lock("gone", ttl=0.6, on_lost=on_lost)
    await lock.acquire()
    await asyncio.sleep(0.05)
    k = keys(prefix, "gone")
    if how == "delete":
        raw.delete(k.holder)
    else:
        raw.set(k.holder, "intruder", px=60000)
    removed = time.monotonic()
    await asyncio.wait_for(called.wait(), 2)
    assert told[0][0] - removed < 0.2 + 0.1  # one renewal interval (ttl/3) and a margin
    assert lock.lost and not lock.held
    assert "renewal found its token gone" in str(told[0][1])
    with pytest.raises(LockLost) as caught:
        await lock.release()
    assert caught.value is told[0][1]
    assert len(told) == 1  # told once
    if how == "overwrite":
        assert raw.get(k.holder) == "intruder"


async def test_async_on_lost_callback_is_awaited(app: App, prefix: str, raw: redis.Redis) -> None:
    told = asyncio.Event()

    async def on_lost(error: LockLost) -> None:
        await asyncio.sleep(0)
        told.set()

    lock = app.lock("cb", ttl=0.3, on_lost=on_lost)
    await lock.acquire()
    raw.delete(keys(prefix, "cb").holder)
    await asyncio.wait_for(told.wait(), 1)
    with pytest.raises(LockLost):
        await lock.release()


async def test_a_blocked_loop_knows_it_lost_the_lock_as_it_wakes(app: App) -> None:
    lock = app.lock("paused", ttl=0.2)
    await lock.acquire()
    time.sleep(0.3)  # noqa: ASYNC251 (blocks the loop on purpose: renewal cannot run)
    assert lock.lost and not lock.held  # known before any renewal ran
    with pytest.raises(LockLost, match="lease ran out"):
        await lock.release()


async def test_without_renewal_the_lease_ends_and_on_lost_says_so(app: App) -> None:
    told: list[LockLost] = []
    lock = app.lock("short", ttl=0.2, renew=False, on_lost=told.append)
    await lock.acquire()
    await asyncio.sleep(0.35)
    assert len(told) == 1 and "lease ran out" in str(told[0])
    assert await app.lock("short").try_acquire()


# -- sync ----------------------------------------------------------------------------


def test_sync_lock_from_a_thread_pool(app: App) -> None:
    inside = 0
    overlaps = 0
    fences: list[int] = []
    guard = threading.Lock()

    def task() -> None:
        nonlocal inside, overlaps
        for _ in range(10):
            with app.sync_lock("shared", ttl=5, timeout=10) as lock:
                with guard:
                    inside += 1
                    overlaps += inside > 1
                    fences.append(lock.fence)
                time.sleep(0.002)
                with guard:
                    inside -= 1

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(task) for _ in range(4)]:
            future.result()
    assert overlaps == 0
    assert fences == list(range(1, 41))


def test_sync_blocking_acquire_is_woken_and_times_out(app: App) -> None:
    holder = app.sync_lock("s", ttl=20)
    holder.acquire()
    assert not app.sync_lock("s").try_acquire()
    started = time.monotonic()
    with pytest.raises(LockTimeout, match=r"lock 's' not acquired within its timeout of 0\.2 s"):
        app.sync_lock("s", timeout=0.2).acquire()
    assert 0.2 <= time.monotonic() - started < 0.7
    timer = threading.Timer(0.3, holder.release)
    timer.start()
    started = time.monotonic()
    with app.sync_lock("s", timeout=10) as waiter:
        assert 0.25 < time.monotonic() - started < 0.6
        assert waiter.fence == holder.fence + 1
    timer.join()


def test_sync_renewal_and_loss(app: App, prefix: str, raw: redis.Redis) -> None:
    told: list[tuple[str, LockLost]] = []
    lock = app.sync_lock(
        "sl", ttl=0.3, on_lost=lambda e: told.append((threading.current_thread().name, e))
    )
    lock.acquire()
    time.sleep(1.0)  # renewed by its thread meanwhile
    assert lock.held and not app.sync_lock("sl").try_acquire()
    raw.delete(keys(prefix, "sl").holder)
    deadline = time.monotonic() + 1
    while not told and time.monotonic() < deadline:
        time.sleep(0.01)
    assert told and told[0][0] == "chronoq-lock-renewal"  # from the renewal thread
    assert lock.lost and not lock.held
    with pytest.raises(LockLost, match="renewal found its token gone"):
        lock.release()


def test_sync_expired_holder_release_raises(app: App, prefix: str, raw: redis.Redis) -> None:
    old = app.sync_lock("sx", ttl=0.1, renew=False)
    old.acquire()
    time.sleep(0.2)
    with app.sync_lock("sx") as new:
        with pytest.raises(LockLost, match="lease ran out"):
            old.release()
        assert raw.get(keys(prefix, "sx").holder) is not None  # the new holder's
        assert new.held


# -- once -------------------------------------------------------------------------------


async def test_once_is_true_the_first_time_only(app: App, prefix: str, raw: redis.Redis) -> None:
    assert await app.once("mail:42:run-1", ttl=0.3)
    assert not await app.once("mail:42:run-1", ttl=0.3)
    assert await app.once("mail:43:run-1", ttl=0.3)  # keys are independent
    assert 0 < raw.pttl(Keyspace(prefix).once("mail:42:run-1")) <= 300
    await asyncio.sleep(0.35)
    assert await app.once("mail:42:run-1")  # claimable again once the ttl ran out
    assert raw.pttl(Keyspace(prefix).once("mail:42:run-1")) > 86000 * 1000


def test_sync_once_from_many_threads(app: App) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: app.sync_once("only-one", ttl=5), range(32)))
    assert results.count(True) == 1


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "invalid lock name '': must be a non-empty string"),
        ("a{b}", "invalid lock name 'a{b}': '{' and '}' are not allowed"),
        ("x" * 513, "513 characters, at most 512"),
    ],
)
async def test_bad_names_are_refused(app: App, name: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        app.lock(name)
    assert message in str(caught.value)
    with pytest.raises(ConfigurationError, match="invalid lock name"):
        app.sync_lock(name)
    with pytest.raises(ConfigurationError, match="invalid once key"):
        await app.once(name)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl": 0}, "lock ttl must be at least 0.05 s, got 0"),
        ({"ttl": float("nan")}, "lock ttl must be at least"),
        ({"timeout": -1}, "lock timeout must be >= 0 s or None, got -1"),
        ({"timeout": 1, "blocking": False}, "a lock timeout needs blocking=True"),
    ],
)
def test_bad_options_are_refused(app: App, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        app.lock("ok", **options)  # type: ignore[arg-type]


def test_once_refuses_a_bad_ttl(app: App) -> None:
    with pytest.raises(ConfigurationError, match="once ttl must be > 0 seconds, got 0"):
        app.sync_once("k", ttl=0)
