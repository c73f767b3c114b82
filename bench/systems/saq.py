"""SAQ runner (see bench/README.md).

Worker config: saq.Worker via its API (`python saq.py worker --db DB`), one asyncio
worker per process, all defaults: concurrency 10, dequeue by blocking BLMOVE, timers
schedule 1 s (moves due scheduled jobs), sweep 60 s, abort 1 s.
SAQ has no bulk enqueue API (Queue.map enqueues one job per call and waits for results).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

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
from saq import Queue, Worker  # noqa: E402

CONFIG = "saq Worker, 1 asyncio worker per process, defaults (concurrency 10, schedule timer 1 s)"
DB = int(os.environ.get("BENCH_DB", "10"))
_stamp_redis = None


def make_queue(db: int) -> Queue:
    return Queue.from_url(f"redis://127.0.0.1:6379/{db}")


async def noop(ctx: dict) -> None:  # type: ignore[type-arg]
    return None


async def stamp(ctx: dict, *, due: float = 0.0) -> None:  # type: ignore[type-arg]
    now = time.time()
    global _stamp_redis  # noqa: PLW0603
    if _stamp_redis is None:
        _stamp_redis = sync_redis(DB)
    _stamp_redis.rpush(STARTS, f"{now} {due}")


async def on_startup(ctx: dict) -> None:  # type: ignore[type-arg]
    sync_redis(DB).incr(READY)


def worker_main(db: int) -> None:
    async def go() -> None:
        queue = make_queue(db)
        await queue.connect()
        await Worker(queue, functions=[noop, stamp], startup=on_startup).start()

    asyncio.run(go())


def start_workers(db: int, procs: int) -> list:  # type: ignore[type-arg]
    env = {"BENCH_DB": str(db)}
    return [
        start_group([sys.executable, __file__, "worker", "--db", str(db)], env)
        for _ in range(procs)
    ]


async def enqueue_concurrently(queue, n: int, width: int = 200) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, n, width):
        await asyncio.gather(*(queue.enqueue("noop") for _ in range(min(width, n - start))))


async def run(args) -> dict[str, object]:  # type: ignore[no-untyped-def]
    db, n = args.db, args.n
    r = sync_redis(db)
    queue = make_queue(db)
    await queue.connect()
    try:
        match args.scenario:
            case "enqueue_single":
                await queue.enqueue("noop")
                t = time.perf_counter()
                for _ in range(n):
                    await queue.enqueue("noop")
                return {"rate": n / (time.perf_counter() - t), "note": "awaited Queue.enqueue"}
            case "enqueue_bulk":
                return {"skip": "no bulk API"}
            case "memory":
                await queue.enqueue("noop")
                before = used_memory(r)
                await enqueue_concurrently(queue, n)
                return {"bytes_per_job": (used_memory(r) - before) / n}
            case "process":
                loop = asyncio.get_running_loop()
                incomplete = queue._incomplete
                out = await asyncio.to_thread(
                    measure_processing,
                    start=lambda: start_workers(db, args.procs),
                    ready=lambda: int(r.get(READY) or 0) >= args.procs,
                    enqueue=lambda: asyncio.run_coroutine_threadsafe(
                        enqueue_concurrently(queue, n), loop
                    ).result(),
                    done=lambda: r.zcard(incomplete) == 0,
                    n=n,
                    procs=args.procs,
                )
                return {**out, "config": f"{args.procs} process(es): {CONFIG}"}
            case "latency" | "delayed":
                workers = start_workers(db, 1)
                try:
                    if not wait_until(lambda: int(r.get(READY) or 0) >= 1, 60):
                        raise RuntimeError("worker not ready")
                    await asyncio.sleep(0.3)
                    samples = await (
                        latency(queue, r, n) if args.scenario == "latency" else delayed(queue, r, n)
                    )
                finally:
                    kill_groups(workers)
                note = (
                    "Queue.enqueue(scheduled=epoch seconds, float); due jobs are moved by "
                    "the worker's 1 s schedule timer"
                    if args.scenario == "delayed"
                    else ""
                )
                return {**percentiles(samples), "config": CONFIG, "note": note}
    finally:
        await queue.disconnect()
    raise ValueError(args.scenario)


async def latency(queue, r, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        t0 = time.time()
        await queue.enqueue("stamp")
        got = await asyncio.to_thread(r.blpop, [STARTS], 10)
        if got is None:
            raise RuntimeError("job did not start")
        samples.append(float(got[1].split()[0]) - t0)
        await asyncio.sleep(0.02)
    return samples


async def delayed(queue, r, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(n):
        due = time.time() + round(random.uniform(1.0, 3.0), 3)
        await queue.enqueue("stamp", due=due, scheduled=due)
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


def main() -> None:
    args = parse_args()
    os.environ["BENCH_DB"] = str(args.db)
    if args.scenario == "worker":
        worker_main(args.db)
        return
    global DB  # noqa: PLW0603
    DB = args.db
    sync_redis(args.db).flushdb()
    try:
        out = asyncio.run(run(args))
    finally:
        sync_redis(args.db).flushdb()
    log(out)
    emit(out)


if __name__ == "__main__":
    main()
