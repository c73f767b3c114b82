"""Workers on a real Redis Cluster (Redis 7.0 and Valkey): three queues on three masters,
thousands of jobs each run exactly once, idle workers woken on every queue's own slot."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from chronoq import App, Client, Job, JobStatus
from chronoq.client import JobRequest
from tests.cluster_app import RECORD
from tests.fault.helpers import WorkerProcess, workers
from tests.servers.cluster import Cluster
from tests.worker.cluster_helpers import (
    BOTH_BINARIES,
    audit,
    cluster_url,
    queue_key,
    queues_on,
    run_counts,
    runs_key,
    spread_queues,
)
from tests.worker.helpers import running_worker, wait_until

BOTH = BOTH_BINARIES
T = TypeVar("T")
CLUSTER_APP = "tests.cluster_app:app"


def record_jobs(prefix: str, queue: str, numbers: range) -> list[JobRequest]:
    return [
        JobRequest(RECORD, [runs_key(prefix, queue), n], queue=queue, force=True) for n in numbers
    ]


async def jobs_in(client: Client, queue: str, ids: Iterable[str]) -> list[Job]:
    return await client.inspector.get_jobs(queue, sorted(ids))


async def finished(client: Client) -> int:
    return sum(c.finished for c in await client.queues())


@BOTH
@pytest.mark.timeout(120)
async def test_ten_thousand_jobs_on_three_masters_run_exactly_once_in_a_worker_process(
    redis_cluster: Cluster, raw_cluster: RedisCluster, cluster_client: Client, prefix: str
) -> None:
    queues = spread_queues(redis_cluster, prefix)
    per_queue, rounds = 3334, 10
    url = cluster_url(redis_cluster)
    with workers() as started:
        worker = WorkerProcess(
            url, prefix, "--queues", ",".join(queues), "--concurrency", "64", app=CLUSTER_APP
        )
        started.append(worker)
        step = per_queue // rounds + 1
        for start in range(0, per_queue, step):
            numbers = range(start, min(start + step, per_queue))
            # one by one (hand-offs to an idle worker), then in bulk (claims)
            for queue in queues:
                await cluster_client.submit(record_jobs(prefix, queue, numbers[:1])[0])
            requests = [r for q in queues for r in record_jobs(prefix, q, numbers[1:])]
            await cluster_client.enqueue_many(requests)
            await asyncio.sleep(0.1)

        async def all_finished() -> bool:
            return await finished(cluster_client) >= per_queue * len(queues)

        await wait_until(all_finished, timeout=90, interval=0.2)
        worker.signal(signal.SIGTERM)
        assert worker.wait(15) == 0, worker.output()[-3000:]
    for queue in queues:
        runs = run_counts(raw_cluster, prefix, queue)
        assert sorted(runs) == list(range(per_queue)), queue  # none lost
        assert set(runs.values()) == {1}, queue  # none twice
        found = audit(raw_cluster, prefix, queue)
        assert found.problems() == []
        assert found.count("done") == per_queue
    counts = {c.queue: c for c in await cluster_client.queues()}
    assert all(counts[q].stats.get("succeeded") == per_queue for q in queues)


@BOTH
async def test_an_idle_worker_on_three_masters_starts_each_queues_job_at_once(
    redis_cluster: Cluster, cluster_app: App, cluster_client: Client, prefix: str
) -> None:
    """Each queue's hand-off lands in that queue's inbox, on its own slot: the worker must
    be blocked on all three, or a job waits out its lease and runs as a second attempt."""
    queues = spread_queues(redis_cluster, prefix)

    @cluster_app.task
    async def echo(n: int) -> int:
        return n

    async with running_worker(cluster_app, queues=queues, lease=10.0):
        for n in range(9):
            if n % 3 == 0:
                await asyncio.sleep(1.5)  # idle: registered on every queue for hand-off
            made = await cluster_client.submit(JobRequest(echo, [n], queue=queues[n % 3]))
            assert await cluster_client.result(made.id, timeout=5) == n  # half a lease
            job = await cluster_client.job(made.id)
            assert (job.attempts, job.status) == (1, JobStatus.SUCCEEDED)


@BOTH
@pytest.mark.timeout(90)
async def test_a_worker_waits_out_a_whole_cluster_outage(
    redis_cluster: Cluster, cluster_app: App, cluster_client: Client, prefix: str
) -> None:
    """Every node down: the client reaches no node to read the slot map from. The
    worker keeps waiting (it would for one server) and serves every queue after."""
    queues = spread_queues(redis_cluster, prefix)

    @cluster_app.task
    async def echo(n: int) -> int:
        return n

    async with running_worker(cluster_app, queues=queues):
        await asyncio.sleep(1.0)
        for server in redis_cluster.servers:
            server.kill()
        await asyncio.sleep(2.0)  # every loop of the worker fails and retries meanwhile
        await asyncio.to_thread(redis_cluster.heal)  # back, empty (no persistence)
        for n, queue in enumerate(queues):
            made = await resend_until_accepted(
                lambda q=queue, n=n: cluster_client.submit(JobRequest(echo, [n], queue=q))  # type: ignore[misc]
            )
            # Known: after CLUSTERDOWN redis-py's Cluster client closes every connection,
            # in-flight commands included, and may resend a claim: that job then waits
            # out its lease (10 s) and runs as attempt 2. Never lost, never run twice.
            assert await cluster_client.result(made.id, timeout=25) == n
            assert (await cluster_client.job(made.id)).attempts <= 2
    # leaving the block stopped the worker cleanly: no loop of it died on the way


async def resend_until_accepted(send: Callable[[], Awaitable[T]]) -> T:
    """Send until the cluster takes it (an application's retry; the job's idempotency
    key, where it matters, makes a resend safe)."""
    for _ in range(200):
        try:
            return await send()
        except (redis.RedisError, RedisClusterException):
            await asyncio.sleep(0.05)
    raise AssertionError("the cluster refused an enqueue for 10 s")


async def produce(
    client: Client,
    prefix: str,
    queue: str,
    stop: asyncio.Event,
    acked: list[int],
    *,
    runs: str | None = None,
) -> None:
    """Enqueue job after job until `stop`, recording each number whose enqueue returned.

    An enqueue the cluster refused for now (TRYAGAIN through a migration, a failover)
    is sent again, as an application would: its idempotency key makes that safe."""
    n = 0
    while not stop.is_set():
        request = JobRequest(
            RECORD,
            [runs or runs_key(prefix, queue), n],
            queue=queue,
            idempotency_key=f"n{n}",
            force=True,
        )
        await resend_until_accepted(lambda r=request: client.submit(r))  # type: ignore[misc]
        acked.append(n)
        n += 1
        await asyncio.sleep(0.002)


@BOTH
@pytest.mark.timeout(90)
async def test_a_live_reshard_of_a_busy_queue_loses_and_repeats_nothing(
    redis_cluster: Cluster, raw_cluster: RedisCluster, cluster_client: Client, prefix: str
) -> None:
    """While the queue's slot moves, every script on it meets TRYAGAIN (its declared
    key prefixes never exist, so a half-moved slot always misses keys): nothing runs on
    half the keys, and the worker waits until the slot has moved, then goes on."""
    source, target, _ = redis_cluster.masters()
    (queue,) = queues_on(redis_cluster, prefix, [source])
    slot = redis_cluster.slot_of(queue_key(prefix, queue))
    stop, acked = asyncio.Event(), []
    with workers() as started:
        worker = WorkerProcess(
            cluster_url(redis_cluster), prefix, "--queues", queue, "--concurrency", "16",
            app=CLUSTER_APP,
        )  # fmt: skip
        started.append(worker)
        producer = asyncio.create_task(produce(cluster_client, prefix, queue, stop, acked))
        await asyncio.sleep(3)
        before = len(acked)
        # 50 keys a batch, 50 ms apart: the slot stays half-moved for seconds
        moved_at = [datetime.now(UTC)]
        moved = await asyncio.to_thread(redis_cluster.migrate_slot, slot, target, 50, 0.05)
        moved_at.append(datetime.now(UTC))
        after = len(acked)
        await asyncio.sleep(2)
        stop.set()
        await producer

        async def all_finished() -> bool:
            return await finished(cluster_client) >= len(acked)

        await wait_until(all_finished, timeout=30, interval=0.2)
        worker.signal(signal.SIGTERM)
        assert worker.wait(15) == 0, worker.output()[-3000:]
    assert redis_cluster.owner_of_slot(slot) == target
    assert moved > 100 and 0 < before <= after < len(acked)  # jobs on either side of it
    runs = run_counts(raw_cluster, prefix, queue)
    assert sorted(runs) == acked and set(runs.values()) == {1}  # none lost, none twice
    found = audit(raw_cluster, prefix, queue)
    assert found.problems() == [] and found.count("done") == len(acked)
    jobs = await jobs_in(cluster_client, queue, found.hashes)
    repeated = [(j.id, j.attempts, j.error, j.started_at) for j in jobs if j.attempts != 1]
    # none waited out a lease or failed a first time; say why one did, and when it moved
    assert repeated == [], (repeated, moved_at, worker.output()[-4000:])


@BOTH
@pytest.mark.timeout(90)
async def test_a_worker_rides_out_the_failover_of_its_queues_master(
    redis_cluster: Cluster, raw_cluster: RedisCluster, cluster_client: Client, prefix: str
) -> None:
    """SIGKILL the queue's master while jobs flow; its replica takes over. Replication
    is asynchronous, so writes acknowledged just before the kill may be gone (a job
    lost, or its outcome lost and the job run again); nothing after the promotion may
    be, and no job may be left stranded (each in one index, all done at the end). On
    localhost the replica keeps up: runs here lost none and ran none twice."""
    doomed, survivor, _ = redis_cluster.masters()
    (queue,) = queues_on(redis_cluster, prefix, [doomed])
    (elsewhere,) = queues_on(redis_cluster, prefix, [survivor])
    runs = runs_key(prefix, elsewhere)  # on another master: the record survives the kill
    stop, acked = asyncio.Event(), []
    with workers() as started:
        worker = WorkerProcess(
            cluster_url(redis_cluster), prefix, "--queues", queue, "--concurrency", "16",
            app=CLUSTER_APP,
        )  # fmt: skip
        started.append(worker)
        producer = asyncio.create_task(
            produce(cluster_client, prefix, queue, stop, acked, runs=runs)
        )
        await asyncio.sleep(3)
        promoted = await asyncio.to_thread(redis_cluster.kill_master, doomed)
        at_promotion = len(acked)
        await asyncio.sleep(3)
        stop.set()
        await producer

        async def settled() -> bool:  # every job present done (a lost outcome waits a lease)
            found = await asyncio.to_thread(audit, raw_cluster, prefix, queue)
            return len(found.hashes) == found.count("done")

        await wait_until(settled, timeout=40, interval=0.5)
        assert worker.alive(), worker.output()[-3000:]  # the same process throughout
        worker.signal(signal.SIGTERM)
        assert worker.wait(15) == 0, worker.output()[-3000:]
    assert redis_cluster.owner_of_key(queue_key(prefix, queue)) == promoted
    found = audit(raw_cluster, prefix, queue)
    assert found.problems() == []
    ran = run_counts(raw_cluster, prefix, elsewhere)
    done = {int(job.args[1]) for job in await jobs_in(cluster_client, queue, found.hashes)}
    after = acked[at_promotion:]
    assert len(after) > 50 and all(ran[n] == 1 and n in done for n in after)  # resumed
    lost = [n for n in acked if n not in done]
    twice = [n for n in acked if ran[n] > 1]
    assert all(n < at_promotion for n in lost + twice)  # only what the kill could take
    assert len(lost) + len(twice) <= 0.01 * at_promotion, (lost, twice)
