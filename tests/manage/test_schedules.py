"""The schedule manager's operator views and actions: pause reasons, run history as
the scheduler records it, backfills (idempotent per run time), DST-marked next
runs, the calendar and the spec check."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chronoq import App, Client, JobStatus
from chronoq.core.errors import ScheduleNotFound
from chronoq.core.job import to_millis
from chronoq.redis.connection import connect
from chronoq.schedule.model import Misfire, Overlap, ScheduleDef
from chronoq.worker.scheduler import Scheduler


@pytest.fixture(autouse=True)
def task_t(app: App) -> None:
    @app.task(name="t")
    def t(*args: Any, **kwargs: Any) -> None: ...


async def one_tick(client: Client) -> Scheduler:
    listener = connect(client.settings.redis_url, blocking_timeout=30)
    try:
        loop = Scheduler(client, listener=listener)
        await loop.tick()
        return loop
    finally:
        await listener.aclose()


async def test_pause_and_resume_keep_their_reasons(app: App) -> None:
    async with app.schedules() as schedules:
        await schedules.add("digest", "0 8 * * *", "t", tz="Europe/Paris")
        paused = await schedules.pause("digest", "  holiday freeze ", by="ann")
        body = paused.to_dict()
        assert body["paused"] is True and body["pause_reason"] == "holiday freeze"
        assert body["paused_at"] is not None and body["next_due"] is None
        stored = (await schedules.get("digest")).to_dict()
        assert stored["pause_reason"] == "holiday freeze"  # stored, not only returned
        resumed = await schedules.resume("digest", "freeze over", by="bob")
        assert resumed.to_dict()["pause_reason"] is None and resumed.next_due is not None
        kinds = [(v.record.kind.value, v.record.reason, v.record.by)
                 for v in await schedules.history("digest")]  # fmt: skip
        assert kinds == [("resumed", "freeze over", "bob"), ("paused", "holiday freeze", "ann")]
        # A paused schedule's fingerprint is its definition's: code sync keeps the pause.
        info = await schedules.get("digest")
        assert info.definition.fingerprint() == paused.definition.fingerprint()


async def test_the_history_shows_what_the_scheduler_did(app: App, client: Client) -> None:
    store = client.backend.schedules
    async with app.schedules() as schedules:
        # Daily runs, no scheduler for ten days: "once" fires one run, nine are missed.
        d = ScheduleDef("daily", "t", "@daily", misfire=Misfire.ONCE, grace=1)
        stored = (await store.add(d)).definition
        now = await store.server_now()
        first = stored.next_run_after(now - timedelta(days=10))
        assert first is not None
        await store.redis.zadd(store.keys.due, {"daily": to_millis(first)})
        await one_tick(client)
        views = await schedules.history("daily")
        assert [v.record.kind.value for v in views] == ["enqueued", "missed"]
        enqueued, missed = views
        assert missed.record.count == 9 and missed.record.due == first
        assert missed.record.until == first + timedelta(days=8)
        assert enqueued.record.due == first + timedelta(days=9)
        assert enqueued.record.job_id and enqueued.status == JobStatus.QUEUED.value
        body = enqueued.to_dict()
        assert body["kind"] == "enqueued" and body["queue"] == "default"
        with pytest.raises(ScheduleNotFound):
            await schedules.history("nope")


async def test_skipped_runs_are_recorded(app: App, client: Client) -> None:
    store = client.backend.schedules
    d = ScheduleDef("s", "t", "* * * * * *", overlap=Overlap.SKIP, grace=5)
    await store.add(d)
    async with app.schedules() as schedules:
        await asyncio.sleep(1.1)
        await one_tick(client)  # fires one run; its job is never claimed (no worker)
        await asyncio.sleep(1.1)
        await one_tick(client)  # the previous job has not finished: skipped
        kinds = [v.record.kind.value for v in await schedules.history("s")]
    assert kinds[0] == "skipped" and kinds[-1] == "enqueued"


async def test_backfill_enqueues_each_run_time_once(app: App, client: Client) -> None:
    async with app.schedules() as schedules:
        await schedules.add("hourly", "@hourly", "t")
        now = await client.backend.schedules.server_now()
        start = now - timedelta(hours=5)
        planned = await schedules.backfill_times("hourly", start, now + timedelta(days=1))
        assert len(planned) == 5 and await client.queues() == []  # a dry run: nothing made
        first = await schedules.backfill("hourly", start, now + timedelta(days=1), by="ops")
        assert first.end <= now + timedelta(seconds=1)  # never into the future
        assert len(first.runs) == 5 and first.enqueued == 5 and first.existing == 0
        job = await client.job(first.runs[0].job_id)
        assert job.schedule == "hourly" and job.schedule_due == first.runs[0].due
        again = await schedules.backfill("hourly", start, now)
        assert again.enqueued == 0 and again.existing == 5
        assert [r.job_id for r in again.runs] == [r.job_id for r in first.runs]
        assert (await client.queues())[0].waiting == 5
        views = await schedules.history("hourly")
        assert [v.record.kind.value for v in views] == ["backfilled", "backfilled"]
        assert views[1].record.count == 5 and views[1].record.by == "ops"
        assert views[0].record.count == 0
        assert [r.due for r in first.runs] == planned
        body = first.to_dict()
        assert body["enqueued"] == 5 and len(body["runs"]) == 5


async def test_a_backfilled_run_and_the_scheduler_share_a_run_time(
    app: App, client: Client
) -> None:
    """The scheduler's own run for a time a backfill enqueued makes no second job."""
    async with app.schedules() as schedules:
        info = await schedules.add("tick", "* * * * * *", "t")
        assert info.next_due is not None
        await asyncio.sleep(1.2)  # due now; no loop fired it yet
        done = await schedules.backfill("tick", info.next_due, info.next_due)
        assert done.enqueued == 1
        await one_tick(client)  # fires that run (and perhaps the next): one job per time
        jobs = [j for j in await client.jobs(limit=100) if j.schedule_due == info.next_due]
        assert [j.id for j in jobs] == [done.runs[0].job_id]


def test_the_sync_handle_plans_runs_checks_specs_and_draws_the_calendar(app: App) -> None:
    with app.schedules() as schedules:
        schedules.add("night", "30 2 * * *", "t", tz="Europe/Paris")
        runs = schedules.planned("night", 3, after=datetime(2026, 3, 27, 12, tzinfo=UTC))
        assert [r.shift for r in runs] == [None, "forward", None]
        check = schedules.validate("61 * * * *")
        assert not check.ok and check.part == "minute"
        assert schedules.validate("@every 2h", "Asia/Tokyo").ok
        now = datetime(2026, 6, 1, 12, tzinfo=UTC)
        cal = schedules.calendar(7, tz="Europe/Paris", now=now)
        assert len(cal.days) == 7 and all(d.runs == {"night": 1} for d in cal.days[1:])
        job = schedules.trigger("night", by="ann")
        (view,) = schedules.history("night")
        assert view.record.kind.value == "triggered" and view.record.job_id == job.id
