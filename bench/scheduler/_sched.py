"""Helpers shared by the scheduler runners (stdlib + redis-py, which every venv has).

Scenarios (see bench/scheduler/README.md):
  second  - one schedule due each second; lateness/missed/duplicated over --duration s
  minute  - one `* * * * *` schedule; same, over --duration s (whole minutes)
  idle    - one schedule not due for an hour; scheduler CPU over --duration s
  many    - (chronoq) --count schedules stored, none due; CPU, memory, + per-second lateness
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
