"""arq runner (see bench/README.md).

Worker config: arq.worker.Worker via its API (`python arq.py worker --db DB`), one asyncio
worker per process, defaults (max_jobs 10, queue_read_limit 100, keep_result 3600 s)
except poll_delay = 50 ms (arq's default is 0.5 s; the issue's run used 50 ms).
arq has no bulk enqueue API.
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
from arq import create_pool  # noqa: E402
from arq.connections import RedisSettings  # noqa: E402
from arq.constants import default_queue_name  # noqa: E402
from arq.worker import Worker  # noqa: E402

POLL_DELAY = 0.05
CONFIG = (
    "arq Worker, 1 asyncio worker per process, max_jobs 10 (default), "
    "poll_delay 50 ms (default 0.5 s; the issue's run used 50 ms)"
)
DB = int(os.environ.get("BENCH_DB", "10"))
_stamp_redis = None


def settings(db: int) -> RedisSettings:
    return RedisSettings(host="127.0.0.1", port=6379, database=db)


async def noop(ctx: dict) -> None:  # type: ignore[type-arg]
    return None


async def stamp(ctx: dict, due: float = 0.0) -> None:  # type: ignore[type-arg]
    now = time.time()
    global _stamp_redis  # noqa: PLW0603
    if _stamp_redis is None:
        _stamp_redis = sync_redis(DB)
    _stamp_redis.rpush(STARTS, f"{now} {due}")


async def on_startup(ctx: dict) -> None:  # type: ignore[type-arg]
    sync_redis(DB).incr(READY)


def worker_main(db: int) -> None:
    Worker(
        functions=[noop, stamp],
        redis_settings=settings(db),
        poll_delay=POLL_DELAY,
        on_startup=on_startup,
    ).run()


def start_workers(db: int, procs: int) -> list:  # type: ignore[type-arg]
    env = {"BENCH_DB": str(db)}
    return [
        start_group([sys.executable, __file__, "worker", "--db", str(db)], env)
        for _ in range(procs)
    ]


async def enqueue_concurrently(pool, n: int, width: int = 200) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, n, width):
        await asyncio.gather(*(pool.enqueue_job("noop") for _ in range(min(width, n - start))))


async def run(args) -> dict[str, object]:  # type: ignore[no-untyped-def]
    db, n = args.db, args.n
    r = sync_redis(db)
    pool = await create_pool(settings(db))
    try:
        match args.scenario:
            case "enqueue_single":
                await pool.enqueue_job("noop")
                t = time.perf_counter()
                for _ in range(n):
                    await pool.enqueue_job("noop")
                return {"rate": n / (time.perf_counter() - t), "note": "awaited enqueue_job"}
            case "enqueue_bulk":
                return {"skip": "no bulk API"}
            case "memory":
                await pool.enqueue_job("noop")
                before = used_memory(r)
                await enqueue_concurrently(pool, n)
                return {"bytes_per_job": (used_memory(r) - before) / n}
            case "process":
                loop = asyncio.get_running_loop()
                out = await asyncio.to_thread(
                    measure_processing,
                    start=lambda: start_workers(db, args.procs),
                    ready=lambda: int(r.get(READY) or 0) >= args.procs,
                    enqueue=lambda: asyncio.run_coroutine_threadsafe(
                        enqueue_concurrently(pool, n), loop
                    ).result(),
                    done=lambda: r.zcard(default_queue_name) == 0,
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
                        latency(pool, r, n) if args.scenario == "latency" else delayed(pool, r, n)
                    )
                finally:
                    kill_groups(workers)
                return {**percentiles(samples), "config": CONFIG}
    finally:
        await pool.aclose()
    raise ValueError(args.scenario)


async def latency(pool, r, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        t0 = time.time()
        await pool.enqueue_job("stamp")
        got = await asyncio.to_thread(r.blpop, [STARTS], 10)
        if got is None:
            raise RuntimeError("job did not start")
        samples.append(float(got[1].split()[0]) - t0)
        await asyncio.sleep(0.02)
    return samples


async def delayed(pool, r, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(n):
        delay = round(random.uniform(1.0, 3.0), 3)
        due = time.time() + delay
        await pool.enqueue_job("stamp", due, _defer_by=delay)
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
