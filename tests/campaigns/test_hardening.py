"""The campaign path's edges: bad input ends a job dead naming the field (the
worker goes on) and fails a run whose search returned no recipient list; a reply
without a campaign finds the recipient's campaigns through their index; a send
deferred at its grant shows its deferral as the step's next send; the step jobs
share one client per event loop."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chronoq import JobRequest, JobStatus
from chronoq.campaigns import CampaignContext, CampaignState, campaign_step, campaigns
from chronoq.campaigns.clients import shared_client
from chronoq.campaigns.grant import Granted, grant
from chronoq.campaigns.pacing import Pacing, next_allowed
from tests.campaigns.helpers import CampaignApp, ended, run_now
from tests.worker.helpers import running_worker, wait_until

WHERE = {"campaign": "outreach", "step": "email", "run": 1}


@pytest.mark.parametrize(
    ("recipient", "named"),
    [
        (5, "recipient: an object with an email, got int"),
        ({"name": "Ann"}, "recipient email: Field required"),
        ({"email": "not-an-address"}, "recipient email: not an email address"),
        ({"email": "ann@example.com", "zone": "Mars/Olympus"}, "recipient zone: unknown time zone"),
        ({"email": "ann@example.com", "data": [1]}, "recipient data: an object, got list"),
    ],
)
async def test_a_malformed_recipient_ends_the_step_job_dead_naming_the_field(
    redis_url: str, prefix: str, recipient: Any, named: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=1)
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=2) as worker:
        await c.create(t.spec(steps=[{"name": "email", "task": "t.email", "each": True}],
                              recipients=[{"email": t.people[0]}]))  # fmt: skip
        bad = await c.client.submit(JobRequest("t.email", [recipient], WHERE))
        with pytest.raises(Exception, match=named):
            await c.client.result(bad.id, timeout=20)
        job = await c.client.job(bad.id)
        good = await c.client.submit(JobRequest("t.email", [{"email": t.people[0]}], WHERE))
        sent = await c.client.result(good.id, timeout=20)  # the same worker goes on
        assert worker.state == "serving"
    assert job.status is JobStatus.DEAD and job.attempts == 1, job  # Permanent: no retry
    assert named in (job.error or "") and "campaign 'outreach' step 'email'" in (job.error or "")
    assert sent["status"] == "sent"


@pytest.mark.parametrize(
    ("found", "said"),
    [
        (42, "returned int (42), not a list of recipients"),
        (None, "returned None (None), not a list of recipients"),
        ({"email": "a@b.com"}, "returned dict"),
        ([1, "x@", {"name": "n"}], "returned 3 rows and none is a recipient (row 0: recipient:"),
    ],
)
async def test_a_search_that_returns_no_recipient_list_fails_the_run_with_a_clear_error(
    redis_url: str, prefix: str, found: Any, said: str
) -> None:
    t = CampaignApp(redis_url, prefix)

    @t.app.task(name="t.odd_search", max_retries=0)
    def odd_search() -> Any:
        return found

    spec = t.spec(steps=[{"name": "search", "task": "t.odd_search"},
                         {"name": "email", "task": "t.email", "each": True}])  # fmt: skip
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=2):
        await c.create(spec)
        await run_now(c, "outreach")
        view = await ended(c, "outreach")
        runs = await c.history("outreach")
    assert view.state is CampaignState.FAILED
    assert view.last_error is not None and said in view.last_error, view.last_error
    assert "step 'search'" in view.last_error
    assert runs[0].status == "failed"
    assert t.sent() == []


async def test_a_search_with_some_bad_rows_sends_to_the_good_ones(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix)

    @t.app.task(name="t.mixed_search", max_retries=0)
    def mixed_search() -> list[Any]:
        return [{"email": "good@example.com"}, 7, {"email": "bad"}]

    steps = [{"name": "search", "task": "t.mixed_search"},
             {"name": "email", "task": "t.email", "each": True}]  # fmt: skip
    spec = t.spec(steps=steps, max_runs=1)
    async with campaigns(t.app) as c, running_worker(t.app, concurrency=2):
        await c.create(spec)
        await run_now(c, "outreach")
        view = await ended(c, "outreach")
    assert view.state is CampaignState.COMPLETED
    assert t.sent() == ["email:good@example.com"] and view.recipients == 1


async def test_a_reply_without_a_campaign_finds_the_recipients_campaigns_in_their_index(
    redis_url: str, prefix: str
) -> None:
    t = CampaignApp(redis_url, prefix, people=3)
    p0, p1, p2 = (p.lower() for p in t.people)
    async with campaigns(t.app) as c:
        for name, who in [("first", [p0, p1]), ("second", [p0]), ("third", [p1, p2])]:
            await c.create(t.spec(name), draft=True)
            rows = [(e, f'{{"email": "{e}"}}') for e in who]
            await c.store.enroll(name, rows, max_recipients=None)
        assert await c.store.campaigns_of(p0) == ["first", "second"]
        # The listing every campaign is in is not read: a reply costs O(its campaigns).
        await c.client.backend.redis.delete(c.store.keys.campaigns)
        await c.record_stop(None, p0.upper(), "reply")
        stops = {n: await c.store.stop_of(n, p0) for n in ("first", "second", "third")}
        # An entry missing (a crash between the enrolment and its index write): the
        # enrolment's retry finds p1 enrolled already and writes it.
        await c.client.backend.redis.delete(c.store.keys.campaign_recipient(p1))
        await c.store.enroll("third", [(p1, f'{{"email": "{p1}"}}')], max_recipients=None)
        rewritten = await c.store.campaigns_of(p1)
        # A stale entry (its campaign deleted) is checked and skipped, nothing written.
        await c.store.delete("first")
        gone_from_index = await c.store.campaigns_of(p1)
        await c.client.backend.redis.hset(c.store.keys.campaign_recipient(p2), "ghost", 1)
        await c.record_stop(None, p2, "unsubscribe")
        ghost = await c.client.backend.redis.exists(c.store.keys.campaign(name="ghost").stops)
        stop_p2 = await c.store.stop_of("third", p2)
        suppressed = await c.suppressed(p2)
    assert stops == {"first": "reply", "second": "reply", "third": None}
    assert rewritten == ["third"]  # deleted with its key above, written again
    assert gone_from_index == ["third"]
    assert ghost == 0 and stop_p2 == "unsubscribe" and suppressed == "unsubscribe"


def test_the_recipient_index_key_keeps_one_hash_tag_whatever_the_email() -> None:
    from chronoq.redis.keys import Keyspace

    key = Keyspace("p").campaign_recipient("we}ird{x@example.com")
    assert key == "p:{cmpr:we%7Dird%7Bx@example.com}:campaigns"
    assert key.count("{") == 1 and key.count("}") == 1


async def test_a_send_deferred_at_its_grant_shows_its_deferral_as_the_steps_next_send(
    redis_url: str, prefix: str
) -> None:
    """The run and enrolment run on `default`; the sends wait on `mail` while the
    account's day is used up by another campaign's sends (the real grant), then a
    mail worker's grants defer them to the next local day."""
    t = CampaignApp(redis_url, prefix, people=2)

    @campaign_step(t.app, name="t.queued_email", queue="mail")
    def queued_email(recipient: dict[str, Any], ctx: CampaignContext) -> str:
        t.log.rpush(t.sends, f"{ctx.step}:{ctx.recipient.key}")
        return "sent"

    pacing = {"per_day": 2}
    spec = t.spec(steps=[{"name": "email", "task": "t.queued_email", "each": True}],
                  recipients=[{"email": p} for p in t.people], pacing=pacing)  # fmt: skip
    async with campaigns(t.app) as c:
        await c.create(spec)
        async with running_worker(t.app, concurrency=2, queues="default"):
            await run_now(c, "outreach")

            async def queued() -> bool:
                return (await c.get("outreach")).steps[0].total == 2

            await wait_until(queued, timeout=20)
        before = await c.get("outreach")
        now_ms = int(time.time() * 1000)
        sends = c.client.backend.campaign_sends
        for i in range(2):  # another campaign of the account sends two today
            other = await grant(sends, Pacing(per_day=2), account="acct-1",
                                account_zone="Europe/Paris", recipient=_R(f"o{i}@x.org"),
                                grant_id=f"other:{i}", now_ms=now_ms)  # fmt: skip
            assert isinstance(other, Granted)
        async with running_worker(t.app, concurrency=2, queues="mail"):

            async def deferred() -> bool:
                return (await c.get("outreach")).steps[0].deferred == 2

            await wait_until(deferred, timeout=20)
            view = await c.get("outreach")
            w = await c.workflows.store.load("cmp-outreach-1")
            assert w is not None
            jobs = [n["job"] for n in w.nodes.values() if n["stage"] == 1]  # the sends
            run_at = [(await c.client.job(j)).run_at for j in jobs]
    step = view.steps[0]
    tomorrow = datetime.fromtimestamp(
        next_allowed(Pacing(**pacing), "Europe/Paris", None, now_ms) / 1000, UTC
    )
    assert before.steps[0].next_at is not None and before.steps[0].next_at <= datetime.now(UTC)
    assert (step.pending, step.deferred, step.sent) == (2, 2, 0)
    assert step.next_at is not None and abs(step.next_at - tomorrow) < timedelta(seconds=2)
    assert view.next_send == step.next_at
    assert all(r is not None and abs(r - tomorrow) < timedelta(seconds=5) for r in run_at)
    assert t.sent() == []


class _R:
    def __init__(self, email: str) -> None:
        self.email, self.zone = email, None


async def test_step_jobs_share_one_client_per_event_loop(redis_url: str, prefix: str) -> None:
    t = CampaignApp(redis_url, prefix)
    first, again = await shared_client(t.app), await shared_client(t.app)
    other = CampaignApp(redis_url, prefix)
    elsewhere = await shared_client(other.app)

    def in_another_loop() -> int:
        async def made() -> int:
            return id(await shared_client(t.app))

        return asyncio.run(made())

    assert first is again and elsewhere is not first
    assert await asyncio.to_thread(in_another_loop) != id(first)
    assert await first.backend.redis.ping()


async def test_a_job_rerun_after_its_send_reports_sent_and_another_job_is_skipped(
    redis_url: str, prefix: str
) -> None:
    """A worker that died after the send but before the job's outcome: the same job's
    next run finds its own 'sent' mark and reports sent (the progress counts it once),
    never sending again; any other job for that (campaign, step, recipient) is skipped."""
    t = CampaignApp(redis_url, prefix, people=1)
    async with campaigns(t.app) as c:
        await c.create(t.spec())
        store = c.client.backend.campaigns
        begin = {"stops_on": ["reply"], "suppressed": ""}
        assert (
            await store.step_begin("outreach", "email", "a@x.test", "J1", **begin)
        ).decision == "go"
        assert await store.step_end("outreach", "email", "a@x.test", "J1")
        again = await store.step_begin("outreach", "email", "a@x.test", "J1", **begin)
        other = await store.step_begin("outreach", "email", "a@x.test", "J2", **begin)
    assert again is not None and again.decision == "sent"
    assert other is not None
    assert (other.decision, other.reason) == ("skip", "already sent by job J1")
