"""Retention per final state, by age and by count: the trimmer forgets what each
state does not keep (on an idle queue too), and counts it; a job is found by its
id without asking every queue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis

from chronoq import App, JobStatus
from chronoq.client import JobRequest
from chronoq.core.ids import id_tag, queue_tag
from chronoq.core.retention import Keep, RetentionPolicy
from chronoq.core.settings import Settings
from chronoq.redis.broker import Broker
from tests.redis.wire import RecordingProxy
from tests.worker.helpers import running_worker, wait_until

HOUR_MS = 3_600_000


def app_with(redis_url: str, prefix: str, policy: str, **settings: object) -> App:
    chosen = Settings(retention_by_state=policy, **settings)  # type: ignore[arg-type]
    return App("retention", redis_url=redis_url, prefix=prefix, settings=chosen)


async def finish(broker: Broker, count: int) -> list[str]:
    claim = await broker.claim(
        "default", count, lease_ms=60_000, token="tok", worker_id="w", retention_ms=HOUR_MS
    )
    outcomes = [(job.id, job.token, "1") for job in claim.jobs]
    await broker.complete("default", outcomes, retention_ms=HOUR_MS, result_ttl_ms=HOUR_MS)
    return [job.id for job in claim.jobs]


async def kill(broker: Broker, count: int) -> list[str]:
    claim = await broker.claim(
        "default", count, lease_ms=60_000, token="t2", worker_id="w", retention_ms=HOUR_MS
    )
    for job in claim.jobs:
        await broker.fail("default", job.id, job.token, error="e", traceback="", retry_in_ms=None)
    return [job.id for job in claim.jobs]


async def test_each_state_keeps_its_own_count_and_age(
    raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    app = app_with(redis_url, prefix, "succeeded=/5,cancelled=1h,dead=/2")
    policy = app.settings.retention_policy()
    async with app.client() as client:
        broker, q = client.broker, client.broker.keys.queue("default")
        await client.enqueue_many(JobRequest("t", [i], force=True) for i in range(16))
        succeeded = await finish(broker, 12)
        dead = await kill(broker, 3)
        (cancelled,) = [j.id for j in await client.jobs(status=JobStatus.QUEUED)]
        await client.cancel(cancelled)

        removed = await broker.trim_policy("default", policy)
        assert removed[JobStatus.SUCCEEDED] == 7 and removed[JobStatus.DEAD] == 1
        assert removed[JobStatus.CANCELLED] == 0  # an hour is not up
        kept = raw.zrange(q.done, 0, -1)  # the newest five (ties: by id)
        assert len(kept) == 5 and set(kept) <= set(succeeded)
        for job_id in set(succeeded) - set(kept):
            assert raw.exists(q.job(job_id), q.result(job_id)) == 0
        for job_id in kept:
            assert raw.exists(q.job(job_id), q.result(job_id)) == 2
        kept_dead = raw.zrange(q.dead, 0, -1)
        assert len(kept_dead) == 2 and set(kept_dead) <= set(dead)
        assert [raw.exists(q.job(j)) for j in dead if j not in kept_dead] == [0]
        assert (await client.job(cancelled)).status is JobStatus.CANCELLED
        assert raw.hget(q.stats, "trimmed") == "8"
        assert await broker.trim_policy("default", policy) == {
            status: 0 for status, keep in policy.states if keep.age or keep.count
        }


async def test_ages_per_state(raw: redis.Redis, redis_url: str, prefix: str) -> None:
    app = app_with(redis_url, prefix, "succeeded=1h,failed=0.2s")
    async with app.client() as client:
        broker, q = client.broker, client.broker.keys.queue("default")
        made = await client.enqueue_many(JobRequest("t", [i], force=True) for i in range(3))
        await client.cancel(made[2].id)
        await finish(broker, 2)
        await asyncio.sleep(0.3)
        removed = await broker.trim_policy("default", app.settings.retention_policy())
        assert removed[JobStatus.CANCELLED] == 1 and removed[JobStatus.SUCCEEDED] == 0
        assert raw.zcard(q.done) == 2 and not raw.exists(q.job(made[2].id))


async def test_an_idle_queue_is_trimmed_by_the_worker(
    raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    app = app_with(redis_url, prefix, "succeeded=1s/100000")

    @app.task
    async def noop(i: int) -> int:
        return i

    async with app.client() as client:
        q = client.broker.keys.queue("default")
        await client.enqueue_many(JobRequest(noop, [i]) for i in range(20))
        async with running_worker(app):
            await wait_until(lambda: _count(raw, q.done, 20), timeout=10)
            # No job arrives from here on: only the worker's trimmer can forget them.
            await wait_until(lambda: _count(raw, q.done, 0), timeout=10, interval=0.1)
        assert int(raw.hget(q.stats, "trimmed") or 0) == 20
        assert not list(raw.scan_iter(match=f"{q.job_prefix}*"))


async def _count(raw: redis.Redis, key: str, n: int) -> bool:
    return int(raw.zcard(key)) == n


def test_the_policy_is_read_from_text() -> None:
    policy = RetentionPolicy.parse("succeeded=24h/100,000, failed=7d ;dead=30d", default_age=60)
    assert policy.keep(JobStatus.SUCCEEDED) == Keep(86400, 100_000)
    for state in (JobStatus.CANCELLED, JobStatus.EXPIRED, JobStatus.SKIPPED):
        assert policy.keep(state) == Keep(7 * 86400)
    assert policy.keep(JobStatus.DEAD) == Keep(30 * 86400)
    default = RetentionPolicy.parse("", default_age=60)
    assert default.keep(JobStatus.SUCCEEDED) == Keep(60)  # CHRONOQ_RETENTION
    assert default.keep(JobStatus.DEAD) == Keep()  # dead jobs: kept until requeued or purged
    named = RetentionPolicy.parse("failed=1d,expired=2h", default_age=60)
    assert (
        named.keep(JobStatus.EXPIRED) == Keep(7200) and named.keep(JobStatus.SKIPPED).age == 86400
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("running=1h", "unknown state 'running'"),
        ("succeeded", "is not STATE=AGE"),
        ("succeeded=soon", "age 'soon' is not a positive duration"),
        ("succeeded=1h/many", "count 'many' is not a whole number"),
        ("succeeded=/", "neither an age nor a count"),
    ],
)
def test_a_bad_policy_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(retention_by_state=text)


@pytest.fixture
def proxy(redis_url: str) -> Iterator[RecordingProxy]:
    recorder = RecordingProxy(redis_url)
    yield recorder
    recorder.close()


async def test_a_job_is_found_without_asking_every_queue(
    proxy: RecordingProxy, prefix: str
) -> None:
    app = App("lookup", redis_url=proxy.url, prefix=prefix)
    async with app.client() as client:
        for n in range(30):
            await client.submit(JobRequest("t", queue=f"q{n}", force=True))
        job = await client.submit(JobRequest("t", queue="q17", force=True))
        assert id_tag(job.id) == queue_tag("q17")
        proxy.take()
        assert (await client.job(job.id)).queue == "q17"
        asked = [c for c in proxy.take() if c[0].upper() == b"EXISTS"]
        assert len(asked) == 1  # only the queue its id names (no other of the 31 shares it)
        untagged = "0" * 26
        with pytest.raises(Exception, match="no job with id"):
            await client.job(untagged)  # an id without a matching tag: every queue is asked
