"""chronoq scheduler runner (bench/scheduler/README.md).

second/minute: one `chronoq worker chronoq_app:app --redis-url URL --prefix bs` (its
scheduler loop included, the default; concurrency 32). idle/many: `chronoq scheduler
chronoq_app:app` alone (the measured scheduler process) plus a worker with
WorkerOptions(scheduler=False) (chronoq_worker.py, measured separately).
many: --count schedules `@every 1h` (named s0..sN, anchored when added, so none is due
for an hour) added at runtime with ScheduleStore.add (64 at a time), used_memory delta /
count; then scheduler CPU over --duration s; then a per-second schedule is added at
runtime and its lateness measured over --duration s with the N schedules stored.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

import _sched  # noqa: E402
from _sched import READY, bin_path, start_proc, sync_redis, url  # noqa: E402

from chronoq import App  # noqa: E402
from chronoq.schedule.model import ScheduleDef  # noqa: E402


def main() -> None:
    args = _sched.parse_args()
    env = {"SCHED_DB": str(args.db), "SCHED_SCENARIO": args.scenario}
    r = sync_redis(args.db)
    cli = bin_path("chronoq")
    target = ["chronoq_app:app", "--redis-url", url(args.db), "--prefix", "bs"]

    def ready() -> bool:
        return int(r.get(READY) or 0) >= 1

    if args.scenario in ("second", "minute"):
        _sched.run_scenario(
            args,
            lambda: {"worker": start_proc([cli, "worker", *target, "--log-level", "warning"], env)},
            ready,
            config="1 `chronoq worker` (scheduler loop included), concurrency 32",
            after=breakdown,
        )
    elif args.scenario == "idle":
        _sched.run_scenario(
            args,
            lambda: start_split(cli, target, env),
            ready,
            config="`chronoq scheduler` alone + worker(scheduler=False)",
        )
    else:
        many(args, cli, target, env)


def breakdown(r) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """From the job hashes (ms resolution): due (idempotency key `sched:tick:<due ms>`) ->
    enqueued (`enq`) -> started (`st`): the scheduler's share and the worker's."""
    enq, start = [], []
    for key in r.scan_iter(match="bs:{default}:job:*", count=1000):
        idem, e, s = r.hmget(key, "idem", "enq", "st")
        if not (idem and e and s):
            continue
        due = int(idem.decode().rsplit(":", 1)[1])
        enq.append((int(e) - due) / 1000)
        start.append((int(s) - int(e)) / 1000)
    if not enq:
        return {}
    return {"enq_minus_due": _sched.percentiles(enq), "start_minus_enq": _sched.percentiles(start)}


def start_split(cli: str, target: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    return {
        "scheduler": start_proc([cli, "scheduler", *target, "--log-level", "warning"], env),
        "worker": start_proc([sys.executable, "chronoq_worker.py"], env),
    }


async def add_many(db: int, count: int) -> None:
    app = App("bench", redis_url=url(db), prefix="bs")
    async with app.schedules() as store:
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem:
                await store.add(ScheduleDef(f"s{i}", "tick", "@every 1h"))

        for lo in range(0, count, 5000):
            await asyncio.gather(*(one(i) for i in range(lo, min(count, lo + 5000))))


async def add_one(db: int, name: str, spec: str) -> None:
    app = App("bench", redis_url=url(db), prefix="bs")
    async with app.schedules() as store:
        await store.add(ScheduleDef(name, "tick", spec))


def many(args, cli: str, target: list[str], env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    r = sync_redis(args.db)
    r.flushdb()
    before = int(r.info("memory")["used_memory"])
    t = time.perf_counter()
    asyncio.run(add_many(args.db, args.count))
    add_s = time.perf_counter() - t
    after = int(r.info("memory")["used_memory"])
    # used_memory is server-wide (another benchmark may use other DBs): also sum
    # MEMORY USAGE (exact, SAMPLES 0) of this prefix's schedule keys
    keys = list(r.scan_iter(match="bs:{~sched}:*", count=1000))
    exact = sum(int(r.memory_usage(k, samples=0) or 0) for k in keys)
    res: dict[str, object] = {
        "count": args.count,
        "add_s": round(add_s, 2),
        "add_rate": round(args.count / add_s, 1),
        "bytes_per_schedule": round((after - before) / args.count, 1),
        "key_bytes_per_schedule": round(exact / args.count, 1),
    }
    _sched.log(f"added {args.count} in {add_s:.1f} s")
    procs = {}
    try:
        procs = start_split(cli, target, env)
        if not _sched.wait_until(lambda: int(r.get(READY) or 0) >= 1, 60, 0.05):
            raise RuntimeError("not ready")
        res.update(_sched.cpu_per_min(procs, args.duration))
        res["runs_during_idle"] = r.llen(_sched.STARTS)
        # per-second lateness with N schedules stored (runtime add wakes the loop)
        asyncio.run(add_one(args.db, "persec", "* * * * * *"))
        t0 = time.monotonic()
        cpu0 = _sched.cpu_of(procs["scheduler"])
        lat = _sched.measure_runs(r, "second", args.duration)
        res["scheduler_cpu_s_per_min_persec"] = round(
            (_sched.cpu_of(procs["scheduler"]) - cpu0) * 60 / (time.monotonic() - t0), 4
        )
        res["second"] = lat
        for p in procs.values():
            if p.poll() is not None:
                raise RuntimeError(f"a process exited early (rc {p.returncode})")
    finally:
        _sched.kill_groups(procs.values())
    res["config"] = "`chronoq scheduler` alone + worker(scheduler=False); N x `@every 1h`"
    r.flushdb()
    _sched.emit(res)


if __name__ == "__main__":
    main()
