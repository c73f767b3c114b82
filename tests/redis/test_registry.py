"""The registry store: entries live as long as their heartbeats, definitions outlive
them; a schedule is retired only if it is still stored as read."""

from __future__ import annotations

import asyncio

from chronoq import App
from chronoq.core.registry import PublishedTask
from chronoq.redis.registry import Publisher
from chronoq.schedule.model import ScheduleDef


async def test_entries_expire_without_heartbeats_and_definitions_stay(app: App) -> None:
    @app.task(name="r.task", queue="q")
    def task(n: int) -> None: ...

    definition = PublishedTask.of(task.definition)
    entry = Publisher("p1", "test", tasks={"r.task": definition.version}, schedules=("s",))
    async with app.backend() as backend:
        store = backend.registry
        await store.publish(entry, [definition], ttl=0.3)
        assert [p.schedules for p in await store.live()] == [("s",)]
        assert await store.live_tasks() == {"r.task"}
        assert await store.refresh("p1", ttl=0.3)
        await asyncio.sleep(0.4)
        assert await store.live() == []  # heartbeats stopped: not running
        assert not await store.refresh("p1", ttl=0.3)  # pruned: publish in full again
        await store.publish(entry, [definition], ttl=5)
        await store.withdraw("p1")
        assert await store.live_tasks() == set()
        found = await store.definitions(["r.task", "other"])
    assert list(found) == ["r.task"] and found["r.task"].defaults.queue == "q"


async def test_retire_keeps_a_schedule_changed_since_it_was_read(app: App) -> None:
    async with app.backend() as backend:
        store = backend.schedules
        await store.sync_declared([ScheduleDef("a", "t", "@hourly")], app="test")
        await store.sync_declared([ScheduleDef("b", "t", "@hourly")], app="test")
        await store.add(ScheduleDef("c", "t", "@hourly"))  # runtime: never declared
        read = await store.declared_by("test")
        assert sorted(read) == ["a", "b"]
        await store.update("b", spec="@daily")  # an operator's change: runtime now
        assert await store.retire("a", read["a"])
        assert not await store.retire("b", read["b"])
        assert sorted(i.definition.name for i in await store.all()) == ["b", "c"]
