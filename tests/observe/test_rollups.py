"""Metrics over time: rollups counted by a real worker, read as a window; the minute,
hour and day buckets and their retention; the Prometheus histograms."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import redis

from chronoq import App, Client, JobRequest
from chronoq.core.errors import JobCancelled
from chronoq.core.rollups import BUCKETS_MS, DAY_MS, HOUR_MS, MINUTE_MS, RollupBatch
from chronoq.observe.metrics import read_metrics, render
from chronoq.observe.rollups import window
from chronoq.worker import Worker, WorkerOptions
from chronoq.worker.outcomes import FLUSH_EVERY
from tests.observe.test_metrics import samples
from tests.worker.helpers import running_worker, wait_until


def mixed_app(app: App) -> None:
    @app.task(queue="mix", name="fast")
    async def fast() -> None:
        await asyncio.sleep(0.01)

    @app.task(queue="mix", name="slow")
    async def slow() -> None:
        await asyncio.sleep(0.2)

    @app.task(queue="mix", name="flaky", max_retries=1, retry_delays=(0,))
    async def flaky() -> None:
        raise ValueError("always")


async def run_mix(app: App, client: Client) -> None:
    mixed_app(app)
    for _ in range(30):
        await client.enqueue("fast")
    for _ in range(4):
        await client.enqueue("slow")
    for _ in range(2):
        await client.enqueue("flaky")
    options = WorkerOptions(queues="mix", burst=True, scheduler=False, concurrency=8)
    await Worker(app, options).run()


def between(value: float | None, low_ms: int, high_ms: int) -> bool:
    return value is not None and low_ms / 1000 < value <= high_ms / 1000


async def test_counts_and_percentiles_of_a_known_mix(app: App, client: Client) -> None:
    await run_mix(app, client)
    w = await window(client.backend, hours=1)
    rows = {r.task: r for r in w.rows}
    assert set(rows) == {"fast", "slow", "flaky"} and {r.queue for r in w.rows} == {"mix"}
    fast, slow, flaky = rows["fast"], rows["slow"], rows["flaky"]
    assert fast.counts["succeeded"] == fast.counts["started"] == fast.counts["enqueued"] == 30
    assert slow.counts["succeeded"] == 4
    assert flaky.counts == {
        "enqueued": 2, "started": 4, "succeeded": 0, "failed": 4, "retried": 2, "dead": 2,
        "expired": 0, "cancelled": 0, "throttled": 0,
    }  # fmt: skip
    assert between(fast.run.p50, 10, 25) and between(fast.run.p99, 10, 25)
    assert between(slow.run.p50, 100, 250) and between(slow.run.p99, 100, 250)
    assert fast.run.count == 30 and fast.wait.count == 30
    assert w.counts["succeeded"] == 34 and w.success_rate == round(34 / 38, 6)
    assert between(w.run.p50, 10, 25) and between(w.run.p99, 100, 250)
    assert w.throughput == round(38 / 3600, 6)
    assert w.wait.p50 is not None and w.wait.p50 < 5  # burst drain: seconds at most
    data = w.to_dict()
    assert data["total"]["counts"]["dead"] == 2 and data["rows"][0]["queue"] == "mix"
    assert list(data["total"]["run"]["buckets"])[-1] == "+Inf"
    only = await window(client.backend, hours=1, queue="mix", task="slow")
    assert [r.task for r in only.rows] == ["slow"] and only.counts["succeeded"] == 4
    assert (await window(client.backend, hours=1, queue="nope")).rows == []


async def test_prometheus_histograms_with_queue_and_task_labels(app: App, client: Client) -> None:
    await run_mix(app, client)
    found = samples(render(await read_metrics(client.backend.snapshots)).decode())
    for family in ("chronoq_job_wait_seconds", "chronoq_job_run_seconds"):
        for sample in found[family]:
            assert set(sample.labels) <= {"queue", "task", "le"}, sample
        counts = {s.labels["task"]: s.value for s in found[family] if s.name.endswith("_count")}
        assert counts == {"fast": 30, "slow": 4, "flaky": 4}
    slow = {
        s.labels["le"]: s.value
        for s in found["chronoq_job_run_seconds"]
        if s.name.endswith("_bucket") and s.labels["task"] == "slow"
    }
    assert slow["0.1"] == 0 and slow["0.25"] == 4 and slow["+Inf"] == 4
    assert len(slow) == len(BUCKETS_MS) + 1


async def test_buckets_roll_up_to_hours_and_days_and_expire(
    client: Client, raw: redis.Redis
) -> None:
    """Written at known instants (the store takes any time): each batch lands in its
    minute, hour and day; a window reads the fewest buckets; each expires on its own
    keep after its slot ends, the days 90 days after theirs."""
    backend = client.backend
    keys = backend.keys.queue("old")
    raw.sadd(backend.keys.queues, "old")
    now = (await backend.rollups.server_ms()) // MINUTE_MS * MINUTE_MS + 30_000
    moments = {
        "recent": now - 3 * HOUR_MS,
        "weeks": now - 20 * DAY_MS,
        "ancient": now - 91 * DAY_MS,
    }
    for task, at in moments.items():
        batch = RollupBatch()
        batch.count("old", task, "succeeded", at, 5)
        batch.observe("old", task, "run", at, 42)
        await backend.rollups.write(batch)
    at = moments["recent"]
    minute, hour, day = (keys.rollup(r, at // s) for r, s in
                         (("m", MINUTE_MS), ("h", HOUR_MS), ("d", DAY_MS)))  # fmt: skip
    assert raw.hget(minute, "recent\tsucceeded") == raw.hget(hour, "recent\tsucceeded") == "5"
    assert raw.hget(day, "recent\tr3") == "1"
    assert raw.pexpiretime(minute) == (at // MINUTE_MS + 1) * MINUTE_MS + 26 * HOUR_MS
    assert raw.pexpiretime(day) == (at // DAY_MS + 1) * DAY_MS + 90 * DAY_MS
    # The ancient day ended more than 90 days ago: its key is gone already.
    assert not raw.exists(keys.rollup("d", moments["ancient"] // DAY_MS))
    assert not raw.exists(keys.rollup("m", moments["weeks"] // MINUTE_MS))  # minutes: 26 h

    four = await window(backend, hours=4, queue="old", now_ms=now)
    assert [r.task for r in four.rows] == ["recent"] and four.counts["succeeded"] == 5
    two = await window(backend, hours=2, queue="old", now_ms=now)
    assert two.rows == []
    hundred = await window(backend, hours=24 * 100, queue="old", now_ms=now)
    assert {r.task: r.counts["succeeded"] for r in hundred.rows} == {"recent": 5, "weeks": 5}
    assert between(hundred.run.p50, 25, 50)


async def test_metrics_off_writes_no_rollups(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    app = App("off", redis_url=redis_url, prefix=prefix)
    app.settings.metrics = False
    mixed_app(app)
    async with app.client() as client:
        await client.enqueue("fast")
        await Worker(app, WorkerOptions(queues="mix", burst=True, scheduler=False)).run()
        assert (await window(client.backend, hours=1)).rows == []
    assert not list(raw.scan_iter(match=f"{prefix}:{{mix}}:m:*"))


async def test_expired_and_cancelled_are_counted(app: App, client: Client) -> None:
    @app.task(queue="mix", name="noop")
    async def noop() -> None: ...

    @app.task(queue="mix", name="stopped")
    async def stopped() -> None:
        raise JobCancelled("asked to stop")

    past = datetime.now(UTC) - timedelta(seconds=5)
    await client.submit(JobRequest(noop, deadline=past))
    await client.enqueue(stopped)
    await Worker(app, WorkerOptions(queues="mix", burst=True, scheduler=False)).run()
    rows = {r.task: r.counts for r in (await window(client.backend, hours=1)).rows}
    assert rows["noop"]["expired"] == 1 and rows["noop"]["started"] == 0
    assert rows["stopped"]["cancelled"] == 1 and rows["stopped"]["failed"] == 0


async def test_an_idle_worker_writes_pending_rollups_within_the_flush_interval(
    app: App, client: Client
) -> None:
    """The second job's counts wait for the rollup interval (the first job's were
    written at once), then go out on the writer's timer: no outcome and no stop
    comes after them to carry them."""

    @app.task(queue="idle", name="tick")
    async def tick() -> None:
        return None

    async def both_counted() -> bool:
        w = await window(client.backend, hours=1, queue="idle")
        return bool(w.rows) and w.counts["succeeded"] == 2

    async with running_worker(app, queues="idle", scheduler=False):
        first = await client.enqueue(tick)
        await client.result(first.id, timeout=10)
        second = await client.enqueue(tick)
        await client.result(second.id, timeout=10)
        await wait_until(both_counted, timeout=FLUSH_EVERY + 3)
