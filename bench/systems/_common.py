"""Helpers shared by the runners (stdlib + redis-py, which every system's venv has).

The scenario method itself lives in `_peers.py` (one driver for every system, chronoq
included); this module has the pieces it and the task modules need: arguments, the one
JSON line, worker process groups and their CPU, percentiles, the auxiliary Redis
connection that tasks record their start times on, and the arrival plans.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

DEFAULT_N = {
    "enqueue_sync": 5000,
    "enqueue_async": 5000,
    "enqueue_bulk": 50000,
    "process": 20000,
    "latency": 500,
    "delayed": 200,
    "memory": 10000,
}
SCENARIOS = tuple(DEFAULT_N)
STARTS = "bench:starts"  # LIST of "start_epoch arg_epoch", one per stamp job
READY = "bench:ready"  # INCRed once per worker process at start-up
HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
LATENCY_RATE = 100.0  # jobs/s, open loop
DELAYED_SPREAD = 4.0  # due times uniform over [1 s, 1 s + spread] after the first enqueue


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=(*SCENARIOS, "worker"))
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--db", type=int, default=10)
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--url", default=None, help="Redis URL (default redis://127.0.0.1:6379/DB)")
    p.add_argument("--queues", type=int, default=1, help="queues to spread jobs over")
    p.add_argument("--rate", type=float, default=LATENCY_RATE, help="latency: jobs/s")
    p.add_argument("--spread", type=float, default=DELAYED_SPREAD, help="delayed: seconds")
    p.add_argument("--seed", type=int, default=1, help="arrival plan seed")
    p.add_argument(
        "--stamp-client",
        choices=("sync", "async"),
        default=None,
        help="latency (chronoq only, which has both): the client the stamp jobs are sent with",
    )
    args = p.parse_args(argv)
    if args.n is None:
        args.n = DEFAULT_N.get(args.scenario, 0)
    if args.db == 0:
        p.error("DB 0 is reserved for the tests; use 10..15")
    if args.url is None:
        args.url = url(args.db)
    return args


def url(db: int) -> str:
    return f"redis://127.0.0.1:6379/{db}"


def is_cluster(redis_url: str) -> bool:
    return redis_url.startswith("redis+cluster://")


def aux_redis(redis_url: str) -> Any:
    """A plain redis-py client for the bench's own keys (start stamps, readiness):
    a Cluster client for `redis+cluster://h:p,...`, else `Redis.from_url`."""
    import redis

    if is_cluster(redis_url):
        from redis.cluster import ClusterNode, RedisCluster

        hosts = redis_url.split("://", 1)[1].split("/", 1)[0].split(",")
        nodes = [ClusterNode(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in hosts]
        return RedisCluster(startup_nodes=nodes)
    return redis.Redis.from_url(redis_url)


def flush(r: Any) -> None:
    """FLUSHDB this DB, or every primary of a Cluster."""
    if type(r).__name__ == "RedisCluster":
        r.flushdb(target_nodes=r.PRIMARIES)
    else:
        r.flushdb()


def emit(obj: dict[str, object]) -> None:
    """The one JSON line the harness reads (last line of stdout)."""
    sys.stdout.flush()
    print(json.dumps(obj), flush=True)


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


# -- stamps: what every task that measures a start records ------------------------------

_stamp_conn: Any = None


def _stamps() -> Any:
    """The worker process's one connection for start stamps (BENCH_REDIS_URL)."""
    global _stamp_conn  # noqa: PLW0603
    if _stamp_conn is None:
        _stamp_conn = aux_redis(os.environ["BENCH_REDIS_URL"])
    return _stamp_conn


def record_start(arg: float) -> None:
    """RPUSH "now arg" to bench:starts. Called first thing by every system's stamp task
    (arg = the enqueue wall time for `latency`, the due time for `delayed`), on the
    worker process's one stamp connection (opened by mark_ready where the system calls
    it, else here on the first stamp)."""
    now = time.time()
    _stamps().rpush(STARTS, f"{now!r} {arg!r}")


def mark_ready() -> None:
    """Count this worker process ready, on its stamp connection: opened now, it is not
    opened (and, on a Cluster, its slot map built: ~20 ms, blocking an async worker's
    loop) while the first stamped jobs run."""
    _stamps().incr(READY)


# -- arrival plans ------------------------------------------------------------------------


def open_loop_offsets(n: int, rate: float, seed: int) -> list[float]:
    """Planned send times (seconds from the first) of a Poisson stream at `rate`/s:
    exponential gaps, fixed in advance, so sending never waits for completions."""
    rng = random.Random(seed)
    t, out = 0.0, []
    for _ in range(n):
        out.append(t)
        t += rng.expovariate(rate)
    return out


def due_offsets(n: int, spread: float, seed: int) -> list[float]:
    """Due times (seconds after the start of the enqueue loop) uniform over
    [1, 1 + spread], in random order."""
    rng = random.Random(seed)
    return [1.0 + rng.uniform(0.0, spread) for _ in range(n)]


# -- worker processes ---------------------------------------------------------------------


def kill_groups(procs: Iterable[subprocess.Popen[bytes]], grace: float = 3.0) -> None:
    """SIGTERM each process group, SIGKILL what is left after `grace` s, and wait until
    no member of any group is alive (a dying worker could still pop a job)."""
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
    pgids = [proc.pid for proc in procs]
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    wait_until(lambda: not group_members(pgids), 10)


def _proc_stats() -> Iterable[tuple[int, list[str]]]:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read().decode()
        except OSError:
            continue
        # fields[0] is stat field 3 (state); pgrp is field 5, utime..cstime are 14..17
        yield int(entry), data[data.rindex(")") + 2 :].split()


def group_members(pgids: Iterable[int]) -> list[int]:
    """Pids of live (non-zombie) processes in these process groups."""
    wanted = set(pgids)
    return [pid for pid, f in _proc_stats() if int(f[2]) in wanted and f[0] != "Z"]


def group_cpu(pgids: Iterable[int]) -> float:
    """User+sys CPU seconds of every process in these process groups, including the
    reaped children they waited for (cutime/cstime)."""
    wanted = set(pgids)
    ticks = sum(sum(int(x) for x in f[11:15]) for _, f in _proc_stats() if int(f[2]) in wanted)
    return ticks / CLK_TCK


def wait_until(pred, timeout: float, interval: float = 0.01) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())


# -- figures --------------------------------------------------------------------------------


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50 = s[int(0.50 (n-1))], p99 = s[int(0.99 (n-1))], max; in milliseconds."""
    s = sorted(samples_s)
    if not s:
        raise RuntimeError("no samples")

    def at(q: float) -> float:
        return round(s[int(q * (len(s) - 1))] * 1000, 3)

    return {
        "p50_ms": at(0.5),
        "p99_ms": at(0.99),
        "max_ms": round(s[-1] * 1000, 3),
        "min_ms": round(s[0] * 1000, 3),
        "samples": len(s),
    }


def db_bytes(r: Any) -> int:
    """Sum of MEMORY USAGE (SAMPLES 0: every element) over the keys of this DB, the
    bench's own start/ready keys left out. Per DB, so other tenants of the shared server
    (INFO used_memory is server-wide) do not count."""
    own = {STARTS.encode(), READY.encode()}
    keys = [k for k in r.scan_iter(count=1000) if k not in own]
    total = 0
    for start in range(0, len(keys), 1000):
        pipe = r.pipeline(transaction=False)
        for key in keys[start : start + 1000]:
            pipe.memory_usage(key, samples=0)
        total += sum(int(b or 0) for b in pipe.execute())
    return total
