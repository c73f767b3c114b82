"""The metrics snapshot and its exposition: bounded labels, and a scrape whose cost is
a few round trips however many jobs there are."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from chronoq import App, Client, JobRequest
from chronoq.observe.exposition import metrics_asgi
from chronoq.observe.metrics import read_metrics, render
from chronoq.redis.snapshot import CHUNK, QUEUE_COUNTERS, SnapshotReader
from chronoq.worker import Worker, WorkerOptions
from tests.redis.private_servers import PrivateServer, new_server, private_servers
from tests.worker.helpers import running_worker, wait_until

SCRIPTS = Path(__file__).resolve().parents[2] / "src" / "chronoq" / "redis" / "scripts"
LABELS = {"queue", "state", "version", "python", "family"}
FAMILIES = {
    "chronoq_build_info",
    "chronoq_redis_up",
    "chronoq_scrape_duration_seconds",
    "chronoq_jobs_total",
    "chronoq_queue_jobs",
    "chronoq_queue_oldest_waiting_seconds",
    "chronoq_queue_workers",
    "chronoq_queue_paused",
    "chronoq_workers",
    "chronoq_scheduler_loops",
}


@pytest.fixture
def servers() -> Iterator[list[PrivateServer]]:
    with private_servers() as started:
        yield started


def commands(admin: redis.Redis) -> int:
    """Commands the server ran so far, INFO (the measuring) left out."""
    stats: dict[str, Any] = admin.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")


async def test_a_scrape_costs_a_round_trip_per_50_queues_whatever_the_jobs(
    servers: list[PrivateServer], prefix: str
) -> None:
    """On a server of its own (commandstats are server-wide): 120 queues read in
    ceil(120/50) round trips of O(1) commands, the same with 2,000 more jobs, well
    under 50 ms."""
    server = new_server(servers)
    admin = server.admin()
    app = App("many", redis_url=server.url, prefix=prefix)
    queues = [f"q{i:03}" for i in range(120)]
    async with app.client() as client:
        await client.enqueue_many(JobRequest("t", queue=q, force=True) for q in queues)
        reader = SnapshotReader(client.backend.redis, client.backend.keys)
        cold = await reader.read()
        assert cold.round_trips == 1 + 3  # the first read discovers the names first
        before = commands(admin)
        warm = await reader.read()
        per_scrape = commands(admin) - before
        assert warm.round_trips == -(-len(queues) // CHUNK) == 3
        assert [q.name for q in warm.queues] == queues
        # TIME, SMEMBERS, 2 ZRANGE, ZCARD, the ops totals' HGETALL; 9 a queue
        assert per_scrape == 6 + 9 * len(queues)
        await client.enqueue_many(JobRequest("t", queue="q000", force=True) for _ in range(2000))
        before = commands(admin)
        fuller = await reader.read()
        assert commands(admin) - before == per_scrape
        assert fuller.queues[0].sizes["queued"] == 2001
        # Our CPU time, not the wall clock: a loaded machine (xdist workers, other runs)
        # stretches the wall time of a scrape however cheap it is; the round trips and
        # commands, the cost on the server, are counted exactly above.
        timings = []
        for _ in range(3):
            spent = time.process_time()
            await read_metrics(reader)
            timings.append(time.process_time() - spent)
    assert min(timings) < 0.05, timings
    admin.close()


async def prometheus_text(client: Client) -> str:
    return render(await read_metrics(client.backend.snapshots)).decode()


def samples(text: str) -> dict[str, list[Any]]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


async def test_families_names_and_bounded_labels(app: App, client: Client) -> None:
    job = await client.submit(JobRequest("t", queue="mail", force=True))
    async with running_worker(app, queues="jobs", heartbeat=0.2) as worker:
        await wait_until(lambda: _alive(client))
        text = await prometheus_text(client)
    found = samples(text)
    assert {s.name for family in found.values() for s in family} == FAMILIES
    for family in found.values():
        for sample in family:
            assert set(sample.labels) <= LABELS, sample
            for value in sample.labels.values():
                assert job.id not in value and worker.id not in value
    assert not re.search(r"(job|worker|account|wid|id)=", text)
    mail = {
        s.labels["state"]: s.value
        for s in found["chronoq_queue_jobs"]
        if s.labels["queue"] == "mail"
    }
    assert mail == {"queued": 1, "scheduled": 0, "running": 0, "dead": 0, "blocked": 0}
    totals = [s for s in found["chronoq_jobs"] if s.labels["queue"] == "mail"]
    assert {s.labels["state"] for s in totals} == set(QUEUE_COUNTERS)
    assert all(s.name == "chronoq_jobs_total" for s in totals)
    workers = {s.labels["queue"]: s.value for s in found["chronoq_queue_workers"]}
    assert workers == {"mail": 0, "jobs": 1}
    assert {s.labels["queue"]: s.value for s in found["chronoq_queue_paused"]} == {"mail": 0}
    oldest = {s.labels["queue"]: s.value for s in found["chronoq_queue_oldest_waiting_seconds"]}
    assert list(oldest) == ["mail"] and 0 <= oldest["mail"] < 60  # "jobs" never had one
    assert found["chronoq_scheduler_loops"][0].value == 1
    [build] = found["chronoq_build_info"]
    assert build.value == 1 and set(build.labels) == {"version", "python"}


async def _alive(client: Client) -> bool:
    snapshot = await client.backend.snapshots.read()
    return any(w.alive for w in snapshot.workers) and any(s.alive for s in snapshot.schedulers)


async def test_counters_come_from_the_queue_stats(app: App, client: Client) -> None:
    @app.task(queue="mail")
    async def send() -> None:
        return None

    await client.enqueue(send)
    await Worker(app, WorkerOptions(queues="mail", burst=True, scheduler=False)).run()
    found = samples(await prometheus_text(client))
    succeeded = [
        s.value
        for s in found["chronoq_jobs"]
        if s.labels == {"queue": "mail", "state": "succeeded"}
    ]
    assert succeeded == [1]


def test_every_counter_the_scripts_keep_is_exported() -> None:
    """A counter added to a stats hash by a script must be named in QUEUE_COUNTERS
    (the only fields exported, so that labels stay bounded)."""
    found: set[str] = set()
    for script in SCRIPTS.glob("*.lua"):
        text = script.read_text()
        stats_keys = set(re.findall(r"KEYS\[(\d+)\]\s+stats\b", text))
        for key in stats_keys:
            found |= set(re.findall(rf"HINCRBY', KEYS\[{key}\], '(\w+)'", text))
        found |= set(re.findall(r"HINCRBY', D\.stats, '(\w+)'", text))
    assert found and found <= set(QUEUE_COUNTERS), found - set(QUEUE_COUNTERS)


async def test_redis_away_is_up_0_not_an_error() -> None:
    app = App("away", redis_url="redis://127.0.0.1:1/0")
    backend = app.backend()
    try:
        snapshot = await read_metrics(backend.snapshots)
    finally:
        await backend.close()
    assert not snapshot.up and snapshot.error
    found = samples(render(snapshot).decode())
    assert found["chronoq_redis_up"][0].value == 0
    assert "chronoq_queue_jobs" not in found


async def test_the_asgi_app_serves_metrics(app: App, client: Client) -> None:
    await client.submit(JobRequest("t", queue="mail", force=True))
    asgi = metrics_asgi(app)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await asgi({"type": "http", "method": "GET", "path": "/metrics"}, receive, send)
    assert sent[0]["status"] == 200
    assert dict(sent[0]["headers"])[b"content-type"].startswith(b"text/plain; version=0.0.4")
    assert 'chronoq_queue_jobs{queue="mail",state="queued"} 1.0' in sent[1]["body"].decode()
    sent.clear()
    await asgi({"type": "http", "method": "GET", "path": "/other"}, receive, send)
    assert sent[0]["status"] == 404
    lifespan = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def next_event() -> dict[str, Any]:
        return next(lifespan)

    sent.clear()
    await asgi({"type": "lifespan"}, next_event, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_lock_losses_and_contention_are_counters_by_family(app: App, client: Client) -> None:
    holder = app.lock("report:1", ttl=0.15, renew=False)
    await holder.acquire()
    assert not await app.lock("report:1").try_acquire()  # contended
    await asyncio.sleep(0.3)  # the holder's lease really runs out: lost
    assert holder.lost
    found = samples(await prometheus_text(client))
    lost = {s.labels["family"]: s.value for s in found["chronoq_lock_lost"]}
    contended = {s.labels["family"]: s.value for s in found["chronoq_lock_contended"]}
    assert lost == {"report": 1} and contended == {"report": 1}
    assert {s.name for s in found["chronoq_lock_lost"]} == {"chronoq_lock_lost_total"}
