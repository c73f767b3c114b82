"""Helpers shared by the scheduler runners (stdlib + redis-py, which every venv has).

Scenarios (see bench/scheduler/README.md):
  second  - one schedule due each second; lateness/missed/duplicated over --duration s
  minute  - one `* * * * *` schedule; same, over --duration s (whole minutes)
  idle    - one schedule not due for an hour; scheduler CPU over --duration s
  many    - --count schedules stored, none due; CPU, memory, + per-second lateness
            (chronoq: chronoq.py; the peers: run_many below)
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(os.path.dirname(HERE), "systems"))
from _common import (  # noqa: E402
    CLK_TCK,
    emit,
    group_cpu,
    group_members,
    kill_groups,
    log,
    sync_redis,
    url,
    wait_until,
)

__all__ = ["CLK_TCK", "emit", "group_cpu", "kill_groups", "log", "sync_redis", "url",
           "wait_until"]  # fmt: skip

STARTS = "sched:starts"  # RPUSH "<start> <due or ->" by the task
READY = "sched:ready"  # INCR by startup hooks
DEFAULT_DURATION = {"second": 90, "minute": 180, "idle": 60, "many": 60}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=tuple(DEFAULT_DURATION))
    p.add_argument("--db", type=int, default=6)
    p.add_argument("--duration", type=float, default=None)
    p.add_argument("--count", type=int, default=10000, help="schedules stored (many)")
    p.add_argument("--budget", type=float, default=600,
                   help="many (peers): seconds the processes get to become ready")  # fmt: skip
    p.add_argument("--no-persec", action="store_true",
                   help="many (peers): skip the per-second phase")  # fmt: skip
    args = p.parse_args(argv)
    # SIGTERM (driver timeout) -> SystemExit, so `finally` stops the started processes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not 6 <= args.db <= 9:
        p.error("use Redis DB 6..9")
    if args.duration is None:
        args.duration = DEFAULT_DURATION[args.scenario]
    return args


def start_proc(cmd: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process in its own session, cwd = bench/scheduler, logs to our stderr."""
    full = dict(os.environ)
    full["PYTHONUNBUFFERED"] = "1"
    full.update(env)
    return subprocess.Popen(list(cmd), cwd=HERE, env=full, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=sys.stderr)  # fmt: skip


def bin_path(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def cpu_of(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user+sys, incl. reaped children) of the process group of `proc`."""
    return group_cpu([proc.pid])


# -- lateness / missed / duplicated ----------------------------------------------------


def window(period: float, duration: float, lead: float) -> tuple[float, float]:
    """[begin, end): the first due time at least `lead` s from now, `duration` s long."""
    begin = math.ceil((time.time() + lead) / period) * period
    return begin, begin + math.ceil(duration / period) * period


def wait_for(t: float) -> None:
    while (left := t - time.time()) > 0:
        time.sleep(min(left, 1.0))


def read_starts(r) -> list[tuple[float, float | None]]:  # type: ignore[no-untyped-def]
    out = []
    for raw in r.lrange(STARTS, 0, -1):
        start, due = raw.decode().split()
        out.append((float(start), None if due == "-" else float(due)))
    return out


def analyze(
    records: list[tuple[float, float | None]],
    period: float,
    begin: float,
    end: float,
    *,
    grid: bool = True,
    early: float = 0.1,
) -> dict[str, object]:
    """Match job starts to due times in [begin, end).

    A record with a due time (passed by the system) uses it; one without is matched to
    the period boundary at or just before it (floor(start + `early`)): that assumes
    lateness in [-early, period - early). `grid`: due times are period boundaries (every
    system but celery's interval `schedule`, whose next due = last send + period); then
    missed = boundaries in the window with no start; otherwise missed = gaps between
    consecutive due times longer than 1.5 periods (counted in periods).
    """
    by_due: dict[int, list[float]] = {}
    for start, given in records:
        if given is None:
            due = math.floor((start + early) / period) * period
        elif grid:
            due = round(given / period) * period
        else:
            due = given
        if begin - 1e-6 <= due < end - 1e-6:
            by_due.setdefault(round(due * 1000), []).append(start)
    lateness = sorted(min(starts) - ms / 1000 for ms, starts in by_due.items())
    duplicated = sum(len(s) - 1 for s in by_due.values())
    if grid:
        expected = round((end - begin) / period)
        missed = expected - len(by_due)
    else:
        dues = sorted(by_due)
        expected = round((end - begin) / period)
        gaps = [(b - a) / 1000 for a, b in itertools.pairwise(dues)]
        missed = sum(max(0, round(g / period) - 1) for g in gaps)
    out: dict[str, object] = {"expected": expected, "runs": len(by_due), "missed": missed,
                              "duplicated": duplicated}  # fmt: skip
    if lateness:
        out.update(percentiles(lateness))
    return out


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    s = sorted(samples_s)

    def at(q: float) -> float:
        return round(s[int(q * (len(s) - 1))] * 1000, 3)

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": round(s[-1] * 1000, 3),
            "min_ms": round(s[0] * 1000, 3), "samples": len(s)}  # fmt: skip


def measure_runs(
    r,  # type: ignore[no-untyped-def]
    scenario: str,
    duration: float,
    *,
    grid: bool = True,
    settle: float = 3.0,
) -> dict[str, object]:
    """For `second`/`minute`: processes are running and ready; wait for the window and a
    grace period, then analyze. The STARTS list is cleared before the window."""
    period = 1.0 if scenario == "second" else 60.0
    begin, end = window(period, duration, settle)
    log(f"window {begin:.0f}..{end:.0f} ({end - begin:.0f} s), now {time.time():.1f}")
    wait_for(begin - min(0.5, period / 2))
    r.delete(STARTS)  # earlier runs (warm-up) don't count; keep the list small
    wait_for(end + (3.0 if period == 1.0 else 10.0))
    res = analyze(read_starts(r), period, begin, end, grid=grid)
    res["window_s"] = end - begin
    return res


def cpu_per_min(procs: dict[str, subprocess.Popen[bytes]], duration: float,
                settle: float = 5.0) -> dict[str, float]:  # fmt: skip
    """CPU seconds per minute of each named process (group) over `duration` s."""
    time.sleep(settle)
    t0 = time.monotonic()
    before = {k: cpu_of(p) for k, p in procs.items()}
    time.sleep(duration)
    elapsed = time.monotonic() - t0
    out = {}
    for k, p in procs.items():
        out[f"{k}_cpu_s_per_min"] = round((cpu_of(p) - before[k]) * 60 / elapsed, 4)
    return out


def run_scenario(  # type: ignore[no-untyped-def]
    args: argparse.Namespace,
    start: Callable[[], dict[str, subprocess.Popen[bytes]]],
    ready: Callable[[], bool],
    *,
    config: str,
    grid: bool = True,
    extra: dict[str, object] | None = None,
    after: Callable[[object], dict[str, object]] | None = None,
):
    """The common flow for second/minute/idle: FLUSHDB, start, wait ready, measure, stop."""
    r = sync_redis(args.db)
    r.flushdb()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        t = time.monotonic()
        procs = start()
        if not wait_until(ready, 60, 0.05):
            raise RuntimeError("processes did not become ready")
        log(f"ready after {time.monotonic() - t:.1f} s")
        if args.scenario == "idle":
            res: dict[str, object] = dict(cpu_per_min(procs, args.duration))
            res["runs_during"] = r.llen(STARTS)
        else:
            res = measure_runs(r, args.scenario, args.duration, grid=grid)
            if after is not None:
                res.update(after(r))
        for p in procs.values():
            if p.poll() is not None:
                raise RuntimeError(f"a process exited early (rc {p.returncode})")
    finally:
        kill_groups(procs.values())
    res["config"] = config
    if extra:
        res.update(extra)
    r.flushdb()
    emit(res)


# -- many (peers) -----------------------------------------------------------------------

READY_AT = "sched:ready_at"  # SET to time.time() by the scheduler process's start-up hook
PERSEC_MAX_STARTUP = 300.0  # skip the per-second phase if phase 1 took longer to settle


def group_rss(proc: subprocess.Popen[bytes]) -> int:
    """Resident set size (bytes, VmRSS) summed over the live processes of the group."""
    total = 0
    for pid in group_members([proc.pid]):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def redis_cpu(r) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds (user+sys, main thread and children) of the whole Redis server."""
    info = r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def stored_bytes(r) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(sum of MEMORY USAGE SAMPLES 0, count) over the DB's keys but the harness's sched:*."""
    total = n = 0
    for key in r.scan_iter(count=1000):
        if key.startswith(b"sched:"):
            continue
        total += int(r.memory_usage(key, samples=0) or 0)
        n += 1
    return total, n


def settle(proc: subprocess.Popen[bytes], ready_at: float, *, minimum: float = 5.0,
           cap: float = 60.0, quiet: float = 0.5) -> float | None:  # fmt: skip
    """Wait `minimum` s after `ready_at` (monotonic), then until a whole second in which
    the process group used < `quiet` s of CPU: the start-up pass is over. Returns the
    monotonic time it settled, or None if it was still busy `cap` s after ready."""
    wait_for(time.time() + max(0.0, ready_at + minimum - time.monotonic()))
    prev, t_prev = cpu_of(proc), time.monotonic()
    while time.monotonic() < ready_at + cap:
        time.sleep(1.0)
        cpu, now = cpu_of(proc), time.monotonic()
        if (cpu - prev) / (now - t_prev) < quiet:
            return now
        prev, t_prev = cpu, now
    return None


def _start_ready(  # type: ignore[no-untyped-def]
    r, start: Callable[[], dict[str, subprocess.Popen[bytes]]], ready_count: int, budget: float
) -> tuple[dict[str, subprocess.Popen[bytes]], float | None, float | None, float | None]:
    """Start the processes, wait (up to `budget` s) until `ready_count` start-up hooks
    INCRed READY. Returns (procs, the scheduler's start-up s to its own hook's READY_AT,
    s until all were ready, monotonic time all were ready); None, None, None if not."""
    r.delete(READY, READY_AT)
    launch, launch_mono = time.time(), time.monotonic()
    procs = start()

    def done() -> bool:
        return int(r.get(READY) or 0) >= ready_count or any(
            p.poll() is not None for p in procs.values()
        )

    wait_until(done, budget, 0.05)
    if int(r.get(READY) or 0) < ready_count:
        return procs, None, None, None
    ready = time.monotonic()
    at = r.get(READY_AT)
    startup = round(float(at) - launch, 2) if at else None
    return procs, startup, round(ready - launch_mono, 2), ready


def run_many(  # type: ignore[no-untyped-def]
    args: argparse.Namespace,
    start: Callable[[bool], dict[str, subprocess.Popen[bytes]]],
    ready_count: int,
    *,
    config: str,
    grid: bool = True,
    extra: Callable[[], dict[str, object]] | None = None,
    before_restart: Callable[[], dict[str, object]] | None = None,
):
    """`many` for the peers, whose schedules are declared in the app module (N from
    SCHED_COUNT): `start(persec)` launches the processes (procs["scheduler"] = the
    scheduler process). Phase 1 (N hourly schedules, none due): start-up until the
    scheduler's start-up hook ran (READY_AT) and until it settled (`settle`); then CPU
    s/min over --duration like `cpu_per_min`, Redis used_memory delta / N and MEMORY
    USAGE of every non-harness key / N (the DB is FLUSHed first), scheduler RSS, Redis
    server CPU. Phase 2 (unless --no-persec or phase 1 took > PERSEC_MAX_STARTUP s):
    restart (no FLUSH: state kept, as on a redeploy) with a per-second schedule next to
    the N and measure its lateness like `second`, plus scheduler CPU over that window.
    A start-up longer than --budget s is recorded as not_ready_after_s."""
    r = sync_redis(args.db)
    r.flushdb()
    mem0 = int(r.info("memory")["used_memory"])
    res: dict[str, object] = {"count": args.count, "budget_s": args.budget}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs, startup, ready_s, ready = _start_ready(
            r, lambda: start(False), ready_count, args.budget
        )
        if ready is None:
            exited = {k: p.returncode for k, p in procs.items() if p.poll() is not None}
            if exited:
                raise RuntimeError(f"processes exited during start-up: {exited}")
            res["not_ready_after_s"] = args.budget
            log(f"not ready after {args.budget:.0f} s")
        else:
            res["startup_s"] = startup
            res["ready_s"] = ready_s
            settled = settle(procs["scheduler"], ready)
            res["settled_s"] = None if settled is None else round(settled - ready + ready_s, 2)  # type: ignore[operator]
            res["startup_cpu_s"] = round(cpu_of(procs["scheduler"]), 2)
            log(f"ready {res['ready_s']} s (scheduler {startup}), settled {res['settled_s']}")
            rcpu0, t0 = redis_cpu(r), time.monotonic()
            res.update(cpu_per_min(procs, args.duration, settle=0.0))
            res["redis_cpu_s_per_min"] = round(
                (redis_cpu(r) - rcpu0) * 60 / (time.monotonic() - t0), 3
            )
            res["scheduler_rss_mb"] = round(group_rss(procs["scheduler"]) / 2**20, 1)
            mem1 = int(r.info("memory")["used_memory"])
            exact, nkeys = stored_bytes(r)
            res["bytes_per_schedule"] = round((mem1 - mem0) / args.count, 1)
            res["key_bytes_per_schedule"] = round(exact / args.count, 1)
            res["keys"] = nkeys
            res["runs_during_idle"] = r.llen(STARTS)
            if extra is not None:
                res.update(extra())
            for p in procs.values():
                if p.poll() is not None:
                    raise RuntimeError(f"a process exited early (rc {p.returncode})")
    finally:
        kill_groups(procs.values(), grace=30)
    took = res.get("settled_s") or (res["ready_s"] + 60 if res.get("ready_s") else None)  # type: ignore[operator]
    if args.no_persec:
        pass
    elif took is None or took > PERSEC_MAX_STARTUP:  # type: ignore[operator]
        res["second"] = {"skipped": f"phase 1 start-up > {PERSEC_MAX_STARTUP:.0f} s"}
    else:
        res.update(
            _persec_phase(args, r, start, ready_count, grid=grid, before_restart=before_restart)
        )
    res["config"] = config
    r.flushdb()
    emit(res)


def _on_time(r) -> bool:  # type: ignore[no-untyped-def]
    """The latest start of the per-second schedule came < 1 s after its due time (or,
    without a due time, < 1 s ago)."""
    raw = r.lindex(STARTS, -1)
    if raw is None:
        return False
    start, due = raw.decode().split()
    ref = time.time() - 1.0 if due == "-" else float(due)
    return float(start) - ref < 1.0


def _persec_phase(  # type: ignore[no-untyped-def]
    args: argparse.Namespace,
    r,
    start: Callable[[bool], dict[str, subprocess.Popen[bytes]]],
    ready_count: int,
    *,
    grid: bool,
    before_restart: Callable[[], dict[str, object]] | None,
) -> dict[str, object]:
    out: dict[str, object] = dict(before_restart()) if before_restart else {}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs, _, ready_s, ready = _start_ready(r, lambda: start(True), ready_count, args.budget)
        if ready is None:
            out["second"] = {"skipped": f"not ready after {args.budget:.0f} s (restart)"}
            return out
        out["persec_ready_s"] = ready_s
        settled = settle(procs["scheduler"], ready)
        out["persec_settled"] = settled is not None
        # a start-up pass can leave the per-second schedule behind (arq computes the next
        # run of every cron job first, then catches up one run per poll): wait until a
        # run starts < 1 s after its due time, at most 60 s more
        t_caught = time.monotonic()
        caught = wait_until(lambda: _on_time(r), 60, 0.25)
        out["persec_caught_up_s"] = round(time.monotonic() - t_caught, 1) if caught else None
        t0, cpu0 = time.monotonic(), cpu_of(procs["scheduler"])
        out["second"] = measure_runs(r, "second", args.duration, grid=grid)
        out["scheduler_cpu_s_per_min_persec"] = round(
            (cpu_of(procs["scheduler"]) - cpu0) * 60 / (time.monotonic() - t0), 4
        )
        for p in procs.values():
            if p.poll() is not None:
                raise RuntimeError(f"a process exited early (rc {p.returncode})")
    finally:
        kill_groups(procs.values(), grace=30)
    return out
