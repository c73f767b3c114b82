"""chronoq runner (see bench/README.md).

Worker config: one `Worker` per process (`python chronoq.py worker --db DB`), default
WorkerOptions: concurrency 32 (asyncio tasks), batch 64 claims per round trip,
idle_wait 1.0 s (blocking doorbell, so an idle worker is woken by a push, not a poll).
Tasks are `async def`. P processes = P workers, each its own session.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time

# This file is named like the package: move its directory to the end of sys.path so
# `import chronoq` finds the real package (and `_common` is still importable).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

from _common import (  # noqa: E402
    READY,
    STARTS,
    emit,
    group_cpu,
    kill_groups,
    log,
    measure_processing,
    parse_args,
    percentiles,
    start_group,
    sync_redis,
    url,
    used_memory,
    wait_until,
)

from chronoq import App  # noqa: E402
from chronoq.client import JobRequest  # noqa: E402
from chronoq.worker import Worker, WorkerOptions  # noqa: E402

DB = int(os.environ.get("BENCH_DB", "10"))
app = App("bench", redis_url=url(DB), prefix="bench")
CONFIG = "1 asyncio worker per process, concurrency 32, batch 64, idle_wait 1.0 s (doorbell)"
_stamp_redis = None


@app.task(name="noop")
async def noop() -> None:
    return None


@app.startup
async def _ready(_app: App) -> None:
    sync_redis(DB).incr(READY)


@app.task(name="stamp")
async def stamp(due: float = 0.0) -> None:
    """Record the start time (and the due time, for delayed jobs)."""
    now = time.time()
    global _stamp_redis  # noqa: PLW0603
    if _stamp_redis is None:
        _stamp_redis = sync_redis(DB)
    _stamp_redis.rpush(STARTS, f"{now} {due}")


def worker_main() -> None:
    """The worker process; SIGTERM/SIGINT stop it gracefully (as a CLI would)."""

    async def go() -> None:
        worker = Worker(app, WorkerOptions(queues="default", concurrency=32))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.request_stop)
        await worker.run()

    asyncio.run(go())


def start_workers(db: int, procs: int) -> list:  # type: ignore[type-arg]
    env = {"BENCH_DB": str(db)}
    return [
        start_group([sys.executable, __file__, "worker", "--db", str(db)], env)
        for _ in range(procs)
    ]


def wait_workers(client, procs: int, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    if not wait_until(lambda: len(client.workers()) >= procs, timeout):
        raise RuntimeError("workers did not register")
    time.sleep(0.3)  # let them settle on the doorbell


def enqueue_single(client, n: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    for _ in range(n):
        client.enqueue(noop)
    sync_rate = n / (time.perf_counter() - t)

    async def run_async() -> float:
        async with app.client() as aclient:
            await aclient.enqueue(noop)  # connect + load scripts
            t = time.perf_counter()
            for _ in range(n):
                await aclient.enqueue(noop)
            return n / (time.perf_counter() - t)

    async_rate = asyncio.run(run_async())
    return {
        "rate": max(sync_rate, async_rate),
        "rate_sync": sync_rate,
        "rate_async": async_rate,
        "note": f"headline = faster of SyncClient.enqueue ({sync_rate:,.0f}/s) and awaited "
        f"Client.enqueue ({async_rate:,.0f}/s)",
    }


def enqueue_bulk(client, n: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    client.enqueue_many([JobRequest(noop) for _ in range(n)])
    sync_rate = n / (time.perf_counter() - t)
    sync_redis(client_db).flushdb()

    async def run_async() -> float:
        async with app.client() as aclient:
            await aclient.enqueue(noop)
            t = time.perf_counter()
            await aclient.enqueue_many([JobRequest(noop) for _ in range(n)])
            return n / (time.perf_counter() - t)

    async_rate = asyncio.run(run_async())
    return {
        "rate": max(sync_rate, async_rate),
        "rate_sync": sync_rate,
        "rate_async": async_rate,
        "note": "enqueue_many, one call (1000 jobs per round trip); headline = faster of "
        f"sync ({sync_rate:,.0f}/s) and async ({async_rate:,.0f}/s)",
    }


def done_count(client) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    pending = finished = 0
    for q in client.queues():
        pending += q.waiting + q.scheduled + q.running
        finished += q.finished + q.dead
    return pending, finished


def process(client, n: int, db: int, procs: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    workers = start_workers(db, procs)
    try:
        wait_workers(client, procs)
        pgids = [w.pid for w in workers]
        cpu0 = group_cpu(pgids)
        t = time.perf_counter()
        client.enqueue_many([JobRequest(noop) for _ in range(n)])
        enq = time.perf_counter() - t

        def finished() -> bool:
            pending, done = done_count(client)
            return pending == 0 and done >= n

        if not wait_until(finished, 240):
            raise RuntimeError(f"not finished: {done_count(client)}")
        elapsed = time.perf_counter() - t
        cpu = group_cpu(pgids) - cpu0
    finally:
        kill_groups(workers)
    # the peers' method too (pre-enqueue, no worker; time from the start command minus the
    # start-up time), for an apples-to-apples figure
    sync_redis(db).flushdb()
    pre_client = app.sync_client()
    try:
        r = sync_redis(db)

        def pre_done() -> bool:
            pending, done = done_count(pre_client)
            return pending == 0 and done >= n

        pre = measure_processing(
            start=lambda: start_workers(db, procs),
            ready=lambda: int(r.get(READY) or 0) >= procs,
            enqueue=lambda: pre_client.enqueue_many([JobRequest(noop) for _ in range(n)]),
            done=pre_done,
            n=n,
            procs=procs,
        )
    finally:
        pre_client.close()
    return {
        "rate": n / elapsed,
        "cpu_s_per_1000": cpu * 1000 / n,
        "seconds": elapsed,
        "enqueue_s": enq,
        "rate_pre": pre["rate"],
        "cpu_s_per_1000_pre": pre["cpu_s_per_1000"],
        "config": f"{procs} process(es): {CONFIG}",
        "note": "headline: workers started and idle first, timed from the start of one bulk "
        "enqueue_many of N to all finished (enqueue competes for the 2 cores); "
        "rate_pre/cpu_s_per_1000_pre: the peers' method (pre-enqueued, start-up "
        "subtracted)",
    }


def latency(client, n: int, db: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    r = sync_redis(db)
    workers = start_workers(db, 1)
    samples = []
    try:
        wait_workers(client, 1)
        for _ in range(n):
            t0 = time.time()
            client.enqueue(stamp)
            got = r.blpop([STARTS], timeout=10)
            if got is None:
                raise RuntimeError("job did not start")
            samples.append(float(got[1].split()[0]) - t0)
            time.sleep(0.02)
    finally:
        kill_groups(workers)
    return {**percentiles(samples), "config": CONFIG, "note": "SyncClient.enqueue"}


def delayed(client, n: int, db: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    r = sync_redis(db)
    workers = start_workers(db, 1)
    samples = []
    try:
        wait_workers(client, 1)
        for _ in range(n):
            delay = round(random.uniform(1.0, 3.0), 3)
            due = time.time() + delay
            client.submit(JobRequest(stamp, kwargs={"due": due}, delay=delay))
        deadline = time.monotonic() + 40
        while len(samples) < n and time.monotonic() < deadline:
            got = r.blpop([STARTS], timeout=1)
            if got is not None:
                start, due = (float(x) for x in got[1].split())
                samples.append(start - due)
        if len(samples) < n:
            raise RuntimeError(f"only {len(samples)}/{n} delayed jobs ran")
    finally:
        kill_groups(workers)
    return {**percentiles(samples), "config": CONFIG, "note": "JobRequest(delay=...)"}


def memory(client, n: int, db: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    r = sync_redis(db)
    client.enqueue(noop)  # registers the queue, loads the scripts
    before = used_memory(r)
    client.enqueue_many([JobRequest(noop) for _ in range(n)])
    after = used_memory(r)
    return {"bytes_per_job": (after - before) / n, "note": "enqueue_many, default options"}


client_db = DB


def main() -> None:
    global client_db  # noqa: PLW0603
    args = parse_args()
    if args.scenario == "worker":
        worker_main()
        return
    client_db = args.db
    os.environ["BENCH_DB"] = str(args.db)
    if args.db != DB:  # rebuild the app's URL for this DB
        app.settings = app.settings.model_copy(update={"redis_url": url(args.db)})
    sync_redis(args.db).flushdb()
    client = app.sync_client()
    try:
        client.enqueue(noop)  # connect and load scripts, then start from a clean DB
        sync_redis(args.db).flushdb()
        client = _fresh(client)
        match args.scenario:
            case "enqueue_single":
                out = enqueue_single(client, args.n)
            case "enqueue_bulk":
                out = enqueue_bulk(client, args.n)
            case "process":
                out = process(client, args.n, args.db, args.procs)
            case "latency":
                out = latency(client, args.n, args.db)
            case "delayed":
                out = delayed(client, args.n, args.db)
            case "memory":
                out = memory(client, args.n, args.db)
    finally:
        client.close()
        sync_redis(args.db).flushdb()
    log(out)
    emit(out)


def _fresh(client):  # type: ignore[no-untyped-def]
    """A new sync client (the old one cached the registered queue of the flushed DB)."""
    client.close()
    return app.sync_client()


if __name__ == "__main__":
    main()
