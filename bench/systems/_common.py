"""Helpers shared by the runners (stdlib + redis-py, which every system's venv has).

Optional: a runner may use these or do the same by itself; see bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence

DEFAULT_N = {
    "enqueue_single": 5000,
    "enqueue_bulk": 50000,
    "process": 20000,
    "latency": 200,
    "delayed": 200,
    "memory": 10000,
}
SCENARIOS = tuple(DEFAULT_N)
STARTS = "bench:starts"
HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=(*SCENARIOS, "worker"))
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--db", type=int, default=10)
    p.add_argument("--procs", type=int, default=1)
    args = p.parse_args(argv)
    if args.n is None:
        args.n = DEFAULT_N.get(args.scenario, 0)
    if args.db == 0:
        p.error("DB 0 is reserved for the tests; use 10..15")
    return args


def url(db: int) -> str:
    return f"redis://127.0.0.1:6379/{db}"


def sync_redis(db: int):  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis(host="127.0.0.1", port=6379, db=db)


def emit(obj: dict[str, object]) -> None:
    """The one JSON line the harness reads (last line of stdout)."""
    sys.stdout.flush()
    print(json.dumps(obj), flush=True)


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


# -- worker processes ---------------------------------------------------------


def start_group(cmd: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a worker command in its own session (process group) with cwd = bench/systems."""
    full_env = dict(os.environ)
    full_env["PYTHONUNBUFFERED"] = "1"
    if env:
        full_env.update(env)
    return subprocess.Popen(
        list(cmd),
        cwd=HERE,
        env=full_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )


def kill_groups(procs: Iterable[subprocess.Popen[bytes]], grace: float = 3.0) -> None:
    procs = list(procs)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + grace
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        if all(proc.poll() is not None for proc in procs):
            break
    # the leaders are gone; make sure nothing else in their groups survives, and wait until
    # every member has really exited (a dying worker could still pop a job from a
    # blocking read and lose it, with at-most-once brokers)
    pgids = [proc.pid for proc in procs]
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    wait_until(lambda: not group_members(pgids), 10)


def group_members(pgids: Iterable[int]) -> list[int]:
    """Pids of live (non-zombie) processes in these process groups."""
    wanted = set(pgids)
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read().decode()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        if int(fields[2]) in wanted and fields[0] != "Z":
            out.append(int(entry))
    return out


def group_cpu(pgids: Iterable[int]) -> float:
    """User+sys CPU seconds of every live process in these process groups, including
    the reaped children they waited for (cutime/cstime)."""
    wanted = set(pgids)
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read().decode()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        # fields[0] is stat field 3 (state); pgrp is field 5, utime..cstime are 14..17
        if int(fields[2]) in wanted:
            ticks += sum(int(x) for x in fields[11:15])
    return ticks / CLK_TCK


def wait_until(pred, timeout: float, interval: float = 0.01) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


# -- figures --------------------------------------------------------------------


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    s = sorted(samples_s)
    if not s:
        raise RuntimeError("no samples")

    def at(q: float) -> float:
        return round(s[int(q * (len(s) - 1))] * 1000, 3)

    return {
        "p50_ms": at(0.5),
        "p99_ms": at(0.99),
        "max_ms": round(s[-1] * 1000, 3),
        "samples": len(s),
    }


def used_memory(r) -> int:  # type: ignore[no-untyped-def]
    return int(r.info("memory")["used_memory"])


READY = "bench:ready"


def measure_processing(  # type: ignore[no-untyped-def]
    *, start, ready, enqueue, done, n: int, procs: int, timeout: float = 240.0
) -> dict[str, object]:
    """`process` for systems without a bulk enqueue worth timing from:

    1. start `procs` workers on an empty queue, wait until `ready()`: start-up time S and
       start-up CPU C; stop them;
    2. `enqueue()` N jobs with no worker running;
    3. start the workers again, poll `done()` every 10 ms: elapsed T, CPU at the end;
    rate = N / (T - S), cpu = (CPU - C) per 1000 jobs.
    `start()` returns the Popen list; `ready()` usually counts a startup hook's INCR of
    bench:ready (reset here before each start).
    """
    r = sync_redis_from_env()
    r.delete(READY)
    t = time.perf_counter()
    workers = start()
    try:
        if not wait_until(ready, 60):
            raise RuntimeError("workers did not become ready")
        startup = time.perf_counter() - t
        startup_cpu = group_cpu(w.pid for w in workers)
    finally:
        kill_groups(workers)
    enqueue()
    r.delete(READY)
    t = time.perf_counter()
    workers = start()
    try:
        if not wait_until(done, timeout):
            raise RuntimeError("jobs not finished in time")
        elapsed = time.perf_counter() - t
        cpu = group_cpu(w.pid for w in workers)
    finally:
        kill_groups(workers)
    return {
        "rate": n / max(elapsed - startup, 1e-9),
        "cpu_s_per_1000": max(cpu - startup_cpu, 0.0) * 1000 / n,
        "seconds": elapsed - startup,
        "startup_s": startup,
        "note": "pre-enqueued with no worker; timed from the worker start command until all "
        "done, minus the start-up time of the same workers on an empty queue "
        "(start-up CPU subtracted too)",
    }


_R = None


def sync_redis_from_env():  # type: ignore[no-untyped-def]
    global _R  # noqa: PLW0603
    if _R is None:
        _R = sync_redis(int(os.environ["BENCH_DB"]))
    return _R
