"""What a worker adds to the operations rollups on its heartbeat: its memory and CPU
per queue served, and the grants and denials of the rate limits and quotas its
jobs asked."""

from __future__ import annotations

import time

import redis

from chronoq import App, Client
from chronoq.observe.ops import OpsWindow, ops_window
from chronoq.observe.rollups import window
from chronoq.redis.keys import Keyspace
from chronoq.worker import Worker, WorkerOptions
from tests.worker.helpers import running_worker, wait_until


async def drain(app: App, queues: str = "mail") -> None:
    options = WorkerOptions(queues=queues, burst=True, scheduler=False, alerts=False)
    await Worker(app, options).run()


async def read(app: App) -> OpsWindow:
    async with app.backend() as backend:
        return await ops_window(backend, hours=1)


async def test_a_worker_samples_its_memory_and_cpu_per_queue(app: App, client: Client) -> None:
    @app.task(queue="mail", name="burn")
    def burn() -> None:
        end = time.process_time() + 0.1
        while time.process_time() < end:  # CPU time, not a sleep
            pass

    await client.enqueue("burn")
    await drain(app, "mail,other")
    workers = {w.queue: w for w in (await read(app)).workers}
    assert set(workers) == {"mail", "other"}  # counted under each queue it serves
    mail = workers["mail"]
    assert mail.samples >= 2  # the first beat, and the last one as it stopped
    assert mail.cpu_seconds >= 0.1
    assert mail.rss_peak_mb is not None and 5 < mail.rss_peak_mb < 5000
    assert mail.rss_mean_mb is not None and mail.rss_mean_mb <= mail.rss_peak_mb
    assert workers["other"].cpu_seconds == mail.cpu_seconds


async def test_rate_limit_and_quota_decisions_are_counted_per_limit(
    app: App, client: Client
) -> None:
    app.limit("api", "2/day", burst=2)
    app.quota("sends", 2, per="day")

    @app.task(queue="mail", name="call", rate_limit="api", rate_key="{key}")
    async def call(key: str) -> None:
        return None

    @app.task(queue="mail", name="send", quota="sends", account="{account}")
    async def send(account: str) -> None:
        return None

    for _ in range(5):
        await client.enqueue("call", "k1")
    for account in ("a1", "a1", "a1", "a2"):
        await client.enqueue("send", account)
    # Not a burst worker: one waits for the deferred jobs (due tomorrow) too.
    async with running_worker(app, queues="mail", scheduler=False, alerts=False, heartbeat=0.2):
        await wait_until(lambda: _decided(app, 9))
    limits = {x.limit: (x.granted, x.denied) for x in (await read(app)).limits}
    assert limits["sends"] == (3, 1)  # a1: 2 of 2, then "later"; a2: 1 of 2
    granted, denied = limits["api"]
    assert denied >= 1 and granted + denied == 5
    async with app.backend() as backend:  # the same story as the job rollups tell
        jobs = {r.task: r.counts for r in (await window(backend, hours=1)).rows}
    assert (jobs["call"]["succeeded"], jobs["call"]["throttled"]) == (granted, denied)
    assert (jobs["send"]["succeeded"], jobs["send"]["throttled"]) == (3, 1)


async def _decided(app: App, n: int) -> bool:
    return sum(x.granted + x.denied for x in (await read(app)).limits) >= n


async def test_metrics_off_writes_no_operations(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    app = App("off", redis_url=redis_url, prefix=prefix)
    app.settings.metrics = False

    @app.task(queue="mail", name="ok")
    async def ok() -> None:
        return None

    async with app.client() as client:
        await client.enqueue("ok")
    await drain(app)
    assert list(raw.scan_iter(match=f"{Keyspace(prefix).ops.minute_prefix}*")) == []
