"""Schedules stored in Redis: changes at runtime, code-declared sync, validation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from chronoq import App
from chronoq.core.errors import ScheduleExists, ScheduleNotFound
from chronoq.redis.schedules import ScheduleStore
from chronoq.schedule.model import ScheduleDef


@pytest.fixture
async def store(app: App) -> AsyncIterator[ScheduleStore]:
    async with app.backend() as backend:
        schedules = backend.schedules
        yield schedules


async def test_add_get_list_remove(store: ScheduleStore) -> None:
    info = await store.add(ScheduleDef("report", "t", "30 2 * * *", tz="Europe/Paris"))
    assert info.origin == "runtime" and info.runs == 0
    now = await store.server_now()
    assert info.next_due is not None and now < info.next_due <= now + timedelta(days=1)
    local = info.next_due.astimezone(info.definition.zone)
    assert (local.hour, local.minute) == (2, 30)
    with pytest.raises(ScheduleExists, match="schedule 'report' exists"):
        await store.add(ScheduleDef("report", "t", "@hourly"))
    await store.add(ScheduleDef("report", "t", "@hourly"), replace=True)
    assert (await store.get("report")).definition.spec == "@hourly"
    await store.add(ScheduleDef("a-first", "t", "@daily"))
    assert [i.definition.name for i in await store.all()] == ["a-first", "report"]
    assert await store.remove("report") is True
    assert await store.remove("report") is False
    with pytest.raises(ScheduleNotFound, match="no schedule named 'report'"):
        await store.get("report")


async def test_pause_and_resume(store: ScheduleStore) -> None:
    await store.add(ScheduleDef("s", "t", "@every 10s"))
    paused = await store.pause("s")
    assert paused.definition.paused and paused.next_due is None
    resumed = await store.resume("s")
    assert not resumed.definition.paused and resumed.next_due is not None


async def test_every_is_anchored_when_first_stored(store: ScheduleStore) -> None:
    info = await store.add(ScheduleDef("s", "t", "@every 10s"))
    anchor = info.definition.anchor
    assert anchor is not None and info.next_due == anchor + timedelta(seconds=10)
    later = await store.update("s", args=[1])
    assert later.definition.anchor == anchor  # the phase survives changes


async def test_update_validates(store: ScheduleStore) -> None:
    await store.add(ScheduleDef("s", "t", "@daily"))
    with pytest.raises(ValueError, match="unknown time zone"):
        await store.update("s", tz="Nowhere/Land")
    assert (await store.get("s")).definition.tz == "UTC"


async def test_declared_schedules_sync_without_clobbering_operators(store: ScheduleStore) -> None:
    declared = ScheduleDef("daily", "t", "0 9 * * *")
    assert await store.sync_declared([declared]) == {"daily": "added"}
    assert await store.sync_declared([declared]) == {"daily": "unchanged"}
    assert (await store.get("daily")).origin == "code"

    changed_in_code = declared.with_changes(spec="0 10 * * *")
    assert await store.sync_declared([changed_in_code]) == {"daily": "updated"}
    assert (await store.get("daily")).definition.spec == "0 10 * * *"

    await store.update("daily", spec="0 11 * * *")  # an operator's change
    assert await store.sync_declared([changed_in_code]) == {"daily": "kept runtime changes"}
    assert (await store.get("daily")).definition.spec == "0 11 * * *"
    assert await store.sync_declared([changed_in_code], overwrite=True) == {"daily": "updated"}
    assert (await store.get("daily")).definition.spec == "0 10 * * *"


async def test_a_paused_code_schedule_stays_paused_across_code_changes(
    store: ScheduleStore,
) -> None:
    declared = ScheduleDef("daily", "t", "0 9 * * *")
    await store.sync_declared([declared])
    await store.pause("daily")
    await store.sync_declared([declared.with_changes(args=[2])], overwrite=True)
    info = await store.get("daily")
    assert info.definition.paused and info.next_due is None and info.definition.args == [2]
