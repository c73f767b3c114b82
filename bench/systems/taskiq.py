"""taskiq runner (see bench/README.md). Tasks: taskiq_tasks.py.

Worker config: `taskiq worker taskiq_tasks:broker --workers P` (taskiq's own
multi-process worker: a supervisor + P worker processes), defaults otherwise
(max-async-tasks 100, ack when received). Broker taskiq_redis.ListQueueBroker (BRPOP on
a list, push-based) with RedisAsyncResultBackend (used to detect completion).
Delayed jobs: `schedule_by_time` on a ListRedisScheduleSource with a separate
`taskiq scheduler --update-interval 1 --skip-first-run` process (one-second resolution).
taskiq has no bulk enqueue API.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

import datetime as dt  # noqa: E402

from _common import (  # noqa: E402
    READY,
    STARTS,
    emit,
    kill_groups,
    log,
    measure_processing,
    parse_args,
    percentiles,
    start_group,
    sync_redis,
    used_memory,
    wait_until,
)

# the console script, not `python -m taskiq` (with cwd = bench/systems, that imports this file)
TASKIQ = os.path.join(os.path.dirname(sys.executable), "taskiq")
CONFIG = (
    "taskiq worker, P worker processes, max-async-tasks 100 (default), ListQueueBroker "
    "+ RedisAsyncResultBackend"
)


def start_workers(db: int, procs: int) -> list:  # type: ignore[type-arg]
    env = {"BENCH_DB": str(db)}
    return [start_group([TASKIQ, "worker", "taskiq_tasks:broker", "--workers", str(procs)], env)]


def start_scheduler(db: int) -> list:  # type: ignore[type-arg]
    return [
        start_group(
            [
                TASKIQ,
                "scheduler",
                "taskiq_tasks:scheduler",
                "--update-interval",
                "1",
                "--skip-first-run",
            ],
            {"BENCH_DB": str(db)},
        )
    ]


async def enqueue_concurrently(n: int, width: int = 200) -> None:
    for start in range(0, n, width):
        await asyncio.gather(*(tasks.noop.kiq() for _ in range(min(width, n - start))))


async def run(args) -> dict[str, object]:  # type: ignore[no-untyped-def]
    db, n = args.db, args.n
    r = sync_redis(db)
    await tasks.broker.startup()
    queue_key = tasks.broker.queue_name
    try:
        match args.scenario:
            case "enqueue_single":
                await tasks.noop.kiq()
                t = time.perf_counter()
                for _ in range(n):
                    await tasks.noop.kiq()
                return {"rate": n / (time.perf_counter() - t), "note": "awaited task.kiq()"}
            case "enqueue_bulk":
                return {"skip": "no bulk API"}
            case "memory":
                await tasks.noop.kiq()
                before = used_memory(r)
                await enqueue_concurrently(n)
                return {"bytes_per_job": (used_memory(r) - before) / n}
            case "process":
                loop = asyncio.get_running_loop()

                def done() -> bool:
                    return r.llen(queue_key) == 0 and r.dbsize() - r.exists(READY) >= n

                out = await asyncio.to_thread(
                    measure_processing,
                    start=lambda: start_workers(db, args.procs),
                    ready=lambda: int(r.get(READY) or 0) >= args.procs,
                    enqueue=lambda: asyncio.run_coroutine_threadsafe(
                        enqueue_concurrently(n), loop
                    ).result(),
                    done=done,
                    n=n,
                    procs=args.procs,
                )
                return {**out, "config": f"{args.procs} process(es): {CONFIG}"}
            case "latency" | "delayed":
                workers = start_workers(db, 1)
                if args.scenario == "delayed":
                    workers += start_scheduler(db)
                try:
                    if not wait_until(lambda: int(r.get(READY) or 0) >= 1, 60):
                        raise RuntimeError("worker not ready")
                    await asyncio.sleep(2.0 if args.scenario == "delayed" else 0.3)
                    samples = await (latency(r, n) if args.scenario == "latency" else delayed(r, n))
                finally:
                    kill_groups(workers)
                note = (
                    "schedule_by_time + taskiq scheduler (1 s resolution, --update-interval 1)"
                    if args.scenario == "delayed"
                    else ""
                )
                return {**percentiles(samples), "config": CONFIG, "note": note}
    finally:
        await tasks.broker.shutdown()
    raise ValueError(args.scenario)


async def latency(r, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        t0 = time.time()
        await tasks.stamp.kiq()
        got = await asyncio.to_thread(r.blpop, [STARTS], 10)
        if got is None:
            raise RuntimeError("job did not start")
        samples.append(float(got[1].split()[0]) - t0)
        await asyncio.sleep(0.02)
    return samples


async def delayed(r, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(n):
        due = time.time() + round(random.uniform(1.0, 3.0), 3)
        when = dt.datetime.fromtimestamp(due, dt.UTC)
        await tasks.stamp.kicker().schedule_by_time(tasks.source, when, due=due)
    samples: list[float] = []
    deadline = time.monotonic() + 40
    while len(samples) < n and time.monotonic() < deadline:
        got = await asyncio.to_thread(r.blpop, [STARTS], 1)
        if got is not None:
            start, due = (float(x) for x in got[1].split())
            samples.append(start - due)
    if len(samples) < n:
        raise RuntimeError(f"only {len(samples)}/{n} delayed jobs ran")
    return samples


tasks = None


def main() -> None:
    global tasks  # noqa: PLW0603
    args = parse_args()
    os.environ["BENCH_DB"] = str(args.db)
    import taskiq_tasks

    tasks = taskiq_tasks
    sync_redis(args.db).flushdb()
    try:
        out = asyncio.run(run(args))
    finally:
        sync_redis(args.db).flushdb()
    log(out)
    emit(out)


if __name__ == "__main__":
    main()
