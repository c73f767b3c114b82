"""The event stream: every state change of a queue's jobs, in order, in a capped
STREAM that consumers follow without polling job records; off with CHRONOQ_EVENTS=0."""

from __future__ import annotations

import asyncio

import redis

from chronoq import App, Client, JobStatus
from chronoq.client import JobRequest
from chronoq.core.settings import Settings
from tests.worker.helpers import running_worker, wait_until


def changes(raw: redis.Redis, client: Client, job_id: str, queue: str = "default") -> list[str]:
    """The job's statuses in stream order (an entry's `job` may list a batch's ids)."""
    stream = client.broker.keys.queue(queue).events
    return [f["status"] for _, f in raw.xrange(stream) if job_id in f["job"].split(" ")]


async def test_every_state_change_is_appended_in_order(
    app: App, client: Client, raw: redis.Redis
) -> None:
    calls: list[int] = []

    @app.task(retry_delays=[0.05])
    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("once")
        return "ok"

    job = await client.enqueue(flaky)
    later = await client.submit(JobRequest(flaky, delay=3600))
    assert await client.cancel(later.id) == "cancelled"
    async with running_worker(app):
        assert await client.result(job.id, timeout=10) == "ok"
    assert changes(raw, client, job.id) == [
        "queued", "running", "retrying", "queued", "running", "succeeded",
    ]  # fmt: skip
    assert changes(raw, client, later.id) == ["scheduled", "cancelled"]


async def test_a_consumer_follows_the_stream_live(app: App, client: Client) -> None:
    @app.task
    async def noop() -> None: ...

    seen: list[tuple[str, str]] = []

    async def follow() -> None:
        after = "$"
        while "succeeded" not in (status for _, status in seen):
            for entry_id, fields in await client.inspector.events("default", after=after, block=5):
                seen.append((fields["job"], fields["status"]))
                after = entry_id

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.05)  # blocking on the stream before the job exists
    async with running_worker(app):
        job = await client.enqueue(noop)
        await asyncio.wait_for(follower, 10)
    assert {job_id for job_id, _ in seen} == {job.id}
    statuses = [status for _, status in seen]
    # Queued then claimed, or handed straight to the idle worker by the enqueue.
    assert statuses in (["queued", "running", "succeeded"], ["running", "succeeded"])


async def test_a_batch_shares_entries_and_every_job_is_in_them(
    app: App, client: Client, raw: redis.Redis
) -> None:
    """A claim of many jobs writes one 'running' entry listing them, a completion one
    'succeeded' entry: every job's changes are there, in order; Inspector.events
    gives one item per job."""

    @app.task
    async def noop() -> None: ...

    jobs = await client.enqueue_many(JobRequest(noop) for _ in range(50))
    claimed = await client.broker.claim(
        "default", 50, lease_ms=10_000, token="tok", worker_id="w", retention_ms=60_000
    )
    assert len(claimed.jobs) == 50
    outcomes = [(job.id, "tok", "") for job in claimed.jobs]
    stale = await client.broker.complete("default", outcomes, retention_ms=60_000, result_ttl_ms=0)
    assert stale == []
    stream = client.broker.keys.queue("default").events
    entries = raw.xrange(stream)
    assert [f["status"] for _, f in entries] == ["queued", "running", "succeeded"]
    assert all(len(f["job"].split(" ")) == 50 for _, f in entries)
    for job in jobs:
        assert changes(raw, client, job.id) == ["queued", "running", "succeeded"]
    items = await client.inspector.events("default", after="0")
    assert [(f["job"], f["status"]) for _, f in items[50:100]] == [
        (job.id, "running") for job in claimed.jobs
    ]
    assert len(items) == 150 and len({entry_id for entry_id, _ in items}) == 3


async def test_the_stream_is_capped(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    app = App("capped", redis_url=redis_url, prefix=prefix, settings=Settings(events_maxlen=100))
    async with app.client() as client:
        stream = client.broker.keys.queue("default").events
        await client.enqueue_many(JobRequest("t", [i], force=True) for i in range(3000))
        # Batch entries (up to 100 ids each) count their ids: about 100 changes kept.
        assert 100 <= state_changes(raw, stream) <= 400, state_changes(raw, stream)
        for i in range(300):
            await client.submit(JobRequest("t", [i], force=True))  # the single-job script
        length = raw.xlen(stream)
        changes = state_changes(raw, stream)
    # MAXLEN ~ trims whole stream nodes (100 entries each by default): about the cap.
    assert 100 <= length <= 300, length
    assert changes <= 400, changes


def state_changes(raw: redis.Redis, stream: str) -> int:
    return sum(len(fields["job"].split(" ")) for _, fields in raw.xrange(stream))


async def test_events_can_be_turned_off(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    settings = Settings(events=False)
    app = App("quiet", redis_url=redis_url, prefix=prefix, settings=settings)

    @app.task
    async def noop() -> None: ...

    async with app.client() as client:
        job = await client.enqueue(noop)
        async with running_worker(app):
            await wait_until(lambda: _succeeded(client, job.id))
        assert raw.exists(client.broker.keys.queue("default").events) == 0


async def _succeeded(client: Client, job_id: str) -> bool:
    return (await client.job(job_id)).status is JobStatus.SUCCEEDED


def test_the_settings_come_from_the_environment(monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("CHRONOQ_EVENTS", "0")
    monkeypatch.setenv("CHRONOQ_EVENTS_MAXLEN", "500")
    settings = Settings()
    assert (settings.events, settings.events_maxlen, settings.events_cap) == (False, 500, 0)
    monkeypatch.setenv("CHRONOQ_EVENTS", "1")
    assert Settings().events_cap == 500
    assert Settings(events_maxlen=10_000).events_cap == 10_000
