"""Schedules, limits and quotas from Python: the same operations, async and sync."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from chronoq import App, JobStatus
from chronoq.core.errors import ConfigurationError, LimitNotFound, ScheduleExists
from chronoq.core.limits import Kind, Period


def tasks(app: App) -> object:
    @app.task(name="digest", queue="mail")
    async def digest(user: str) -> str:
        return user

    return digest


async def test_async_schedules_add_pause_trigger_and_remove(app: App) -> None:
    digest = tasks(app)
    async with app.schedules() as schedules:
        info = await schedules.add("digest", "0 8 * * *", digest, args=["ann"], tz="Europe/Paris")
        assert (info.definition.task, info.definition.tz) == (digest.name, "Europe/Paris")  # type: ignore[attr-defined]
        with pytest.raises(ScheduleExists):
            await schedules.add("digest", "0 9 * * *", "digest")
        assert [i.definition.name for i in await schedules.list()] == ["digest"]
        paused = await schedules.pause("digest")
        assert paused.definition.paused and paused.next_due is None
        resumed = await schedules.resume("digest")
        assert resumed.next_due is not None
        after = datetime(2026, 12, 1, 12, tzinfo=UTC)
        runs = await schedules.next_runs("digest", 2, after=after)
        assert runs == [datetime(2026, 12, 2, 7, tzinfo=UTC), datetime(2026, 12, 3, 7, tzinfo=UTC)]
        job = await schedules.trigger("digest")
        assert await schedules.remove("digest") and not await schedules.remove("digest")
    async with app.client() as client:
        record = await client.job(job.id)
    assert (record.task, record.queue, record.status) == ("digest", "mail", JobStatus.QUEUED)


def test_sync_schedules_work_from_any_thread(app: App) -> None:
    digest = tasks(app)
    seen: list[object] = []

    def in_thread() -> None:
        with app.schedules() as schedules:
            schedules.add("hourly", "@every 1h", digest, args=["bob"])
            schedules.update("hourly", args=["carol"])
            seen.append(schedules.get("hourly").definition.args)
            seen.append(len(schedules.next_runs("hourly", 3)))

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(20)
    assert seen == [["carol"], 3]
    with app.schedules() as schedules:  # the stored schedule outlives the handle
        assert [i.definition.name for i in schedules.list()] == ["hourly"]


def test_a_schedule_needs_its_spec_and_task(app: App) -> None:
    with app.schedules() as schedules, pytest.raises(ConfigurationError, match="needs a spec"):
        schedules.add("x")


async def test_async_limits_set_update_and_read_usage(app: App) -> None:
    async with app.limits() as limits:
        made = await limits.set(
            "linkedin", "30/h", burst=2, windows={"mon-fri 09:00-17:00": "10/h"}
        )
        assert made.window_rates and made.tz == "UTC"
        changed = await limits.update("linkedin", rate="60/h")
        assert (changed.limit, changed.burst, changed.window_rates) == (60, 2, made.window_rates)
        assert [limit.name for limit in await limits.list()] == ["linkedin"]
        assert await limits.usage("linkedin") == []
        with pytest.raises(ConfigurationError, match="among rate, burst"):
            await limits.update("linkedin", speed="fast")
        await limits.remove("linkedin")
        with pytest.raises(LimitNotFound):
            await limits.get("linkedin")


def test_sync_quotas_and_limits_keep_to_their_kind(app: App) -> None:
    with app.quotas() as quotas:
        quota = quotas.set("emails", 5, per="day", tz="Europe/Paris")
        assert (quota.kind, quota.period, quota.tz) == (Kind.QUOTA, Period.DAY, "Europe/Paris")
        quotas.set_account_zone("acme", "Asia/Tokyo")
        assert quotas.account_zones(["acme", "other"]) == {"acme": "Asia/Tokyo"}
        assert [q.name for q in quotas.list()] == ["emails"]
    with app.limits() as limits:
        limits.set("api", "10/s")
        assert [limit.name for limit in limits.list()] == ["api"]  # quotas are not limits
        with pytest.raises(LimitNotFound, match="is a quota limit, not a rate"):
            limits.get("emails")
    with app.quotas() as quotas:
        quotas.remove("emails")
        assert quotas.list() == []


def test_a_closed_handle_refuses_calls(app: App) -> None:
    with app.limits() as limits:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        limits.list()


def test_handles_reach_the_apps_zone_by_default(redis_url: str, prefix: str) -> None:
    app = App("zoned", redis_url=redis_url, prefix=prefix, timezone="America/Chicago")
    with app.limits() as limits:
        assert limits.set("api", "1/s").tz == "America/Chicago"
    with app.schedules() as schedules:
        info = schedules.add("s", "@daily", "some.task")
        assert info.definition.tz == "America/Chicago"
        assert info.next_due is not None and info.next_due - datetime.now(UTC) <= timedelta(days=1)
