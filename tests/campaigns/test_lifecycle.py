"""Campaigns end to end against a real Redis and real in-process workers: a search
step then an email step, runs one at a time, pause and resume exactly, stops and
suppression, execution limits."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from chronoq import ConfigurationError, JobRequest, ScheduleNotFound
from chronoq.campaigns import CampaignState, campaigns, runner
from tests.campaigns.helpers import CampaignApp, ended, run_now
from tests.worker.helpers import running_worker, wait_until


async def test_a_search_then_email_campaign_runs_end_to_end_on_its_schedule(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=5)
    once = datetime.now(UTC) + timedelta(seconds=1)
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=4):
        created = await c.create(t.spec(schedule={"once": once.isoformat()}))
        assert created.state is CampaignState.SCHEDULED
        view = await ended(c, "outreach")
        runs = await c.history("outreach")
        schedule = await c.schedules.get("campaign.outreach")
    assert sorted(t.sent()) == sorted(f"email:{p.lower()}" for p in t.people)
    assert view.state is CampaignState.COMPLETED, view  # a `once` campaign ran its one run
    assert view.recipients == 5
    steps = {s.name: s for s in view.steps}
    assert (steps["search"].total, steps["search"].sent) == (1, 1)
    assert (steps["email"].total, steps["email"].sent, steps["email"].pending) == (5, 5, 0)
    assert [(r.run, r.status, r.workflow) for r in runs] == [(1, "completed", "cmp-outreach-1")]
    assert schedule.runs == 1
    as_dict = view.to_dict()
    assert as_dict["state"] == "completed" and as_dict["created"].endswith("Z")


async def test_two_workers_send_each_step_once_per_recipient_and_a_duplicate_job_is_refused(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=16)
    spec = t.spec(steps=[{"name": "search", "task": "t.search"},
                         {"name": "email", "task": "t.slow_email", "each": True}])  # fmt: skip
    async with (
        campaigns(t.app) as c,
        running_worker(t.app, concurrency=4),
        running_worker(t.app, concurrency=4),
    ):
        await c.create(spec)
        assert (await run_now(c, "outreach"))["started"] is True
        view = await ended(c, "outreach")
        # Another job for a (campaign, step, recipient) already sent: skipped, not sent.
        again = await c.client.submit(
            JobRequest("t.slow_email", [{"email": t.people[0]}],
                       {"campaign": "outreach", "step": "email", "run": 1})
        )  # fmt: skip
        result = await c.client.result(again.id, timeout=20)
    counts = Counter(t.sent())
    assert sorted(counts) == sorted(f"email:{p.lower()}" for p in t.people)
    assert set(counts.values()) == {1}, counts
    assert view.steps[1].sent == 16
    assert result["status"] == "skipped" and "already sent" in result["reason"], result


async def test_one_run_at_a_time_the_second_run_job_records_its_refusal(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=2)
    later = {"name": "email", "task": "t.email", "each": True, "after": "1h"}
    spec = t.spec(steps=[{"name": "search", "task": "t.search"}, later])
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=2):
        await c.create(spec)
        jobs = await c.client.enqueue_many(
            [JobRequest("chronoq.campaigns.run", ["outreach"]) for _ in range(2)]
        )
        results = [await c.client.result(j.id, timeout=20) for j in jobs]
        view = await c.get("outreach")
    assert sorted(r["started"] for r in results) == [False, True], results
    refused = next(r for r in results if not r["started"])
    assert refused["reason"] in ("live", "locked"), refused
    assert view.state is CampaignState.RUNNING and view.runs == 1
    assert view.current_run == "cmp-outreach-1"
    if refused["reason"] == "live":
        assert view.refused == "live"


async def test_a_stale_fencing_token_cannot_start_a_run(redis_url: str, prefix: str) -> None:
    t = CampaignApp(redis_url, prefix)
    async with campaigns(t.app) as c:
        await c.create(t.spec())
        async with t.app.lock("campaign:outreach") as first:
            old = first.fence or 0
        async with t.app.lock("campaign:outreach") as second:
            new = second.fence or 0
        assert new > old
        started = await c.store.start_run("outreach", fence=new, max_runs=None)
        assert started is not None and started.started and started.run == 1
        await c.store.end_run("outreach", 1, "completed", final=False)
        stale = await c.store.start_run("outreach", fence=old, max_runs=None)
        record = await c.store.record("outreach")
    assert stale is not None and not stale.started and stale.reason == "stale"
    assert record["refused"] == "stale" and record["runs"] == "1"


@pytest.mark.timeout(120)
async def test_pause_mid_send_then_resume_sends_to_every_recipient_exactly_once(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "PAUSED_RETRY", 0.5)
    t = CampaignApp(redis_url, prefix, people=12)
    spec = t.spec(steps=[{"name": "search", "task": "t.search"},
                         {"name": "email", "task": "t.slow_email", "each": True}])  # fmt: skip
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=2):
        await c.create(spec)
        await run_now(c, "outreach")

        async def some_sent() -> bool:
            return len(t.sent()) >= 3

        await wait_until(some_sent, timeout=30)
        paused = await c.pause("outreach", "checking the copy")
        at_pause = len(t.sent())
        await asyncio.sleep(1.5)  # deferred jobs come back (every 0.5 s) and defer again
        during = len(t.sent())
        held = await c.get("outreach")
        resumed = await c.resume("outreach")
        view = await ended(c, "outreach", timeout=60)
    assert paused.state is CampaignState.PAUSED and held.state is CampaignState.PAUSED
    assert held.pause_reason == "checking the copy"
    assert during <= at_pause + 2, (at_pause, during)  # only sends already granted ended
    assert during < 12
    assert resumed.state is CampaignState.RUNNING
    counts = Counter(t.sent())
    assert sorted(counts) == sorted(f"email:{p.lower()}" for p in t.people)
    assert set(counts.values()) == {1}, counts
    assert view.steps[1].sent == 12 and view.steps[1].skipped == 0


async def test_a_reply_skips_that_recipients_later_step_and_a_bounce_suppresses_everywhere(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=3)
    people = [{"email": p} for p in t.people]
    steps = [{"name": "email", "task": "t.email", "each": True},
             {"name": "follow-up", "task": "t.email", "each": True, "after": "3s"}]  # fmt: skip
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=4):
        await c.create(t.spec("first", steps=steps, recipients=people))
        await run_now(c, "first")

        async def emailed() -> bool:
            return len(t.sent()) >= 3

        await wait_until(emailed, timeout=20)
        await c.record_stop("first", t.people[0], "reply")
        await c.record_stop("first", t.people[1], "bounce")
        view = await ended(c, "first")
        await c.create(t.spec("second", steps=steps[:1], recipients=people))
        await run_now(c, "second")
        second = await ended(c, "second")
        suppressed = await c.suppressed(t.people[1])
        marks = await c.store.marks("second")
    p0, p1, p2 = (p.lower() for p in t.people)
    assert sorted(t.sent()) == sorted(
        [f"email:{p0}", f"email:{p1}", f"email:{p2}", f"follow-up:{p2}", f"email:{p0}",
         f"email:{p2}"]
    )  # fmt: skip
    follow = next(s for s in view.steps if s.name == "follow-up")
    assert (follow.total, follow.sent, follow.skipped) == (3, 1, 2)
    assert suppressed == "bounce"
    assert marks[f"email|{p1}"]["state"] == "skipped"
    assert marks[f"email|{p1}"]["reason"] == "suppressed: bounce"
    assert (second.steps[0].sent, second.steps[0].skipped) == (2, 1)


async def test_max_recipients_caps_enrolment_and_max_runs_ends_the_campaign(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=5)
    spec = t.spec(max_recipients=3, max_runs=2)
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=4):
        await c.create(spec)
        assert (await run_now(c, "outreach"))["started"]
        first = await ended(c, "outreach")
        assert (await run_now(c, "outreach"))["started"]
        second = await ended(c, "outreach")
        third = await run_now(c, "outreach")
        runs = await c.history("outreach")
    assert first.recipients == 3 and first.state is CampaignState.SCHEDULED
    assert len(t.sent()) == 3  # the second run found no one new under the cap
    assert second.state is CampaignState.COMPLETED and second.runs == 2
    assert third["started"] is False and third["reason"] == "completed"
    assert [r.run for r in runs] == [2, 1]


async def test_draft_schedule_and_cancel_move_the_schedule_and_the_run(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=2)
    later = {"name": "email", "task": "t.email", "each": True, "after": "1h"}
    spec = t.spec(steps=[{"name": "search", "task": "t.search"}, later])
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=2):
        draft = await c.create(spec, draft=True)
        held = await c.schedules.get("campaign.outreach")
        refused = await run_now(c, "outreach")
        scheduled = await c.schedule("outreach")
        released = await c.schedules.get("campaign.outreach")
        assert (await run_now(c, "outreach"))["started"]

        async def waiting() -> bool:
            return (await c.get("outreach")).steps[0].sent == 1

        await wait_until(waiting, timeout=20)
        live = await c.get("outreach")
        cancelled = await c.cancel("outreach")
        with pytest.raises(ScheduleNotFound):
            await c.schedules.get("campaign.outreach")
        tree = await c.workflows.show("cmp-outreach-1")
        with pytest.raises(ConfigurationError, match="cancelled"):
            await c.resume("outreach")
    assert draft.state is CampaignState.DRAFT and held.definition.paused
    assert refused == {"started": False, "run": 0, "workflow": "", "reason": "draft"}
    assert scheduled.state is CampaignState.SCHEDULED and not released.definition.paused
    assert live.next_send is not None  # the email step's enrolment, an hour on
    assert live.next_send > datetime.now(UTC) + timedelta(minutes=55)
    assert cancelled.state is CampaignState.CANCELLED
    assert tree["status"] == "cancelled"
    assert t.sent() == []


async def test_pacing_holds_sends_over_the_daily_cap_to_the_next_local_day(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=4)
    spec = t.spec(steps=[{"name": "email", "task": "t.email", "each": True}],
                  recipients=[{"email": p} for p in t.people], pacing={"per_day": 2})  # fmt: skip
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=4):
        ahead = await c.forecast(spec)
        await c.create(spec)
        await run_now(c, "outreach")

        async def two_sent() -> bool:
            return (await c.get("outreach")).steps[0].sent == 2

        await wait_until(two_sent, timeout=20)
        await asyncio.sleep(0.5)  # a third send would have been granted by now
        view = await c.get("outreach")
        left = await c.forecast("outreach")
    assert list(ahead.by_day.values()) == [2, 2]
    assert len(t.sent()) == 2
    email = view.steps[0]
    assert (email.total, email.sent, email.pending) == (4, 2, 2)
    assert view.next_send is not None and view.next_send > datetime.now(UTC)
    assert len(left.slots) == 2  # the two not sent yet
    assert view.state is CampaignState.RUNNING


async def test_a_failed_run_fails_the_campaign_with_its_error_and_resume_retries(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix)
    spec = t.spec(steps=[{"name": "search", "task": "t.broken_search"},
                         {"name": "email", "task": "t.email", "each": True}])  # fmt: skip
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=2):
        await c.create(spec)
        await run_now(c, "outreach")
        view = await ended(c, "outreach")
        refused = await run_now(c, "outreach")
        resumed = await c.resume("outreach")
        runs = await c.history("outreach")
    assert view.state is CampaignState.FAILED
    assert view.last_error is not None and "the search endpoint said 400" in view.last_error
    assert view.steps[0].failed == 1
    assert refused["reason"] == "failed"
    assert resumed.state is CampaignState.SCHEDULED and resumed.last_error is None
    assert runs[0].status == "failed" and "400" in (runs[0].error or "")


async def test_a_campaigns_priority_reaches_its_search_and_send_jobs(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=3)
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=4):
        await c.create(t.spec(priority=9))
        await run_now(c, "outreach")
        await ended(c, "outreach")
        flow = await c.workflows.show("cmp-outreach-1")
        jobs = [n["job"] for stage in flow["stages"] for n in stage["nodes"]]
        priorities = {(await c.client.job(j)).priority for j in jobs}
    assert len(jobs) == 1 + 1 + 3 and priorities == {9}  # search, enroll, three sends
