"""The dashboard's shared cache: one read for many askers, and an action's change
never hidden behind a read that began before it."""

from __future__ import annotations

import asyncio

from chronoq.web.state import SharedCache


async def test_concurrent_askers_share_one_read() -> None:
    cache = SharedCache()
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return reads

    values = await asyncio.gather(*(cache.get("k", 5.0, read) for _ in range(50)))
    assert values == [1] * 50 and cache.computed == 1


async def test_a_read_that_began_before_an_action_is_not_kept() -> None:
    cache = SharedCache()
    state = {"paused": False}
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow_read() -> bool:
        seen = state["paused"]  # read before the action writes
        reading.set()
        await release.wait()
        return seen

    stale = asyncio.create_task(cache.get("paused:q", 5.0, slow_read))
    await reading.wait()
    state["paused"] = True  # the action: write, then forget
    cache.forget("paused:")
    release.set()
    assert await stale is False  # its own caller gets what it read...

    async def fresh_read() -> bool:
        return state["paused"]

    # ... but the page the action goes back to reads anew.
    assert await cache.get("paused:q", 5.0, fresh_read) is True
