"""Scenario driver shared by the peer runners (rq, celery, dramatiq, huey).

Each runner builds a `Peer` adapter (how to enqueue, how to start workers, how to tell that
the queue is drained) and calls `run(make_peer)`. Methods are in bench/README.md; the
choices made here:

- `process`: P workers are started on an empty queue and waited for (each system's own
  readiness signal, then 0.5 s to settle), their CPU is snapshotted, then the clock
  starts and the runner enqueues N no-op jobs with the fastest enqueue path the system
  has (bulk where it exists, otherwise its normal call in a loop); the clock stops when
  the system's own state says every job completed (polled every 10 ms). The enqueuing
  client runs on the same 2 cores as the workers, for every system alike.
- `latency`/`delayed`: one worker (P=1); the task RPUSHes to `bench:starts` on a plain
  redis-py connection (BENCH_REDIS_URL) at its start.
- `memory`: the normal single enqueue call, no worker.

The library import dance: bench/systems/NAME.py has the same name as the package it
benchmarks (rq.py vs rq), so each runner drops its own directory from sys.path while it
imports the library, then puts it back (at the end) for `_common`, `_peers` and the
task modules. Worker commands run with cwd = bench/systems; they import the library
before they put cwd on sys.path, so the runner files don't shadow it there either.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _common as C

READY = "bench:ready"


@dataclass
class Peer:
    name: str
    config: str  # worker config line for the JSON
    enqueue_one: Callable[[], Any]
    enqueue_fast: Callable[[int], Any]  # enqueue n no-op jobs as fast as the system can
    enqueue_latency: Callable[[], Any]  # one job that RPUSHes its start time
    enqueue_delayed: Callable[[float, float], Any]  # (delay_s, due_epoch)
    worker_cmds: Callable[[int, str], list[list[str]]]  # (procs, scenario) -> commands
    ready: Callable[[int, Workers], bool]  # (procs, workers) -> all workers ready
    drained: Callable[[int], bool]  # (n) -> every one of n jobs completed
    enqueue_bulk: Callable[[int], Any] | None = None
    bulk_skip: str = "no bulk API"
    delayed_skip: str | None = None
    process_note: str = ""
    delayed_note: str = ""
    latency_note: str = ""
    bulk_note: str = ""
    preenqueue_variant: bool = False  # also time pre-enqueued jobs (no bulk API)
    drained_stable: int = 1  # consecutive polls that must agree (no in-progress marker)
    extra: dict[str, Any] = field(default_factory=dict)


def bin_path(name: str) -> str:
    """A console script of this venv (the runner runs as bench/.venvs/NAME/bin/python)."""
    return os.path.join(os.path.abspath(os.path.dirname(sys.executable)), name)


class Workers:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[str] = []

    def start(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        fd, path = tempfile.mkstemp(prefix="bench-worker-", suffix=".log")
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.update(self.env)
        with os.fdopen(fd, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=C.HERE,
                env=full_env,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        self.logs.append(path)
        C.log("started", " ".join(cmd), "pid", proc.pid, "log", path)
        return proc

    def log_text(self) -> str:
        text = []
        for path in self.logs:
            try:
                with open(path, errors="replace") as f:
                    text.append(f.read())
            except OSError:
                pass
        return "\n".join(text)

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"worker {proc.args} exited with {proc.returncode}:\n{self.log_text()[-3000:]}"
                )

    def cpu(self) -> float:
        return C.group_cpu(p.pid for p in self.procs)

    def stop(self, *, show_log: bool = False) -> None:
        C.kill_groups(self.procs)
        if show_log:
            C.log(self.log_text()[-3000:])
        for path in self.logs:
            with contextlib.suppress(OSError):
                os.unlink(path)


def start_and_wait(peer: Peer, workers: Workers, procs: int, scenario: str) -> float:
    """Start the workers; return seconds from spawn until all are ready."""
    t0 = time.monotonic()
    for cmd in peer.worker_cmds(procs, scenario):
        workers.start(cmd)
    deadline = t0 + 60
    while not peer.ready(procs, workers):
        workers.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError("workers not ready after 60 s:\n" + workers.log_text()[-3000:])
        time.sleep(0.01)
    startup = time.monotonic() - t0
    C.log(f"{peer.name}: {procs} worker(s) ready after {startup:.2f} s")
    time.sleep(0.5)  # let every worker reach its idle wait
    workers.check_alive()
    return startup


def wait_drained(peer: Peer, workers: Workers, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    ok = 0
    last_check = time.monotonic()
    while True:
        if peer.drained(n):
            ok += 1
            if ok >= peer.drained_stable:
                return
        else:
            ok = 0
        now = time.monotonic()
        if now > deadline:
            raise RuntimeError(f"jobs not done after {timeout} s")
        if now - last_check > 1:
            workers.check_alive()
            last_check = now
        time.sleep(0.01)


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def scenario_enqueue_single(peer: Peer, args: Any) -> dict[str, Any]:
    peer.enqueue_one()  # warm up the connection
    n = args.n
    t0 = time.perf_counter()
    for _ in range(n):
        peer.enqueue_one()
    return {"rate": _rate(n, time.perf_counter() - t0)}


def scenario_enqueue_bulk(peer: Peer, args: Any) -> dict[str, Any]:
    if peer.enqueue_bulk is None:
        return {"skip": peer.bulk_skip}
    peer.enqueue_one()
    t0 = time.perf_counter()
    peer.enqueue_bulk(args.n)
    out: dict[str, Any] = {"rate": _rate(args.n, time.perf_counter() - t0)}
    if peer.bulk_note:
        out["note"] = peer.bulk_note
    return out


def scenario_process(peer: Peer, args: Any, workers: Workers) -> dict[str, Any]:
    startup = start_and_wait(peer, workers, args.procs, "process")
    cpu0 = workers.cpu()
    t0 = time.perf_counter()
    peer.enqueue_fast(args.n)
    t_enq = time.perf_counter() - t0
    wait_drained(peer, workers, args.n, timeout=max(120.0, args.n / 50))
    seconds = time.perf_counter() - t0
    cpu = workers.cpu() - cpu0
    out: dict[str, Any] = {
        "rate": _rate(args.n, seconds),
        "cpu_s_per_1000": round(cpu * 1000 / args.n, 4),
        "config": peer.config.format(procs=args.procs),
        "enqueue_s": round(t_enq, 3),
        "startup_s": round(startup, 2),
    }
    if peer.process_note:
        out["note"] = peer.process_note
    if peer.preenqueue_variant:
        out.update(_process_preenqueued(peer, args, workers, startup, cpu0))
    return out


def _process_preenqueued(
    peer: Peer, args: Any, workers: Workers, startup: float, startup_cpu: float
) -> dict[str, Any]:
    """Second measurement for systems whose one-by-one enqueue would cap `rate`: stop the
    workers, pre-enqueue N (untimed), start fresh workers, time spawn -> drained and
    subtract the idle spawn -> ready time (and idle start-up CPU) of the first phase."""
    workers.stop()
    workers.procs.clear()
    workers.logs.clear()
    r = C.sync_redis(args.db)
    r.delete(READY)
    peer.enqueue_fast(args.n)
    t0 = time.perf_counter()
    for cmd in peer.worker_cmds(args.procs, "process"):
        workers.start(cmd)
    wait_drained(peer, workers, args.n, timeout=max(120.0, args.n / 50))
    seconds = time.perf_counter() - t0
    cpu = workers.cpu()
    return {
        "rate_preenqueued": _rate(args.n, max(seconds - startup, 1e-3)),
        "cpu_s_per_1000_preenqueued": round(max(cpu - startup_cpu, 0.0) * 1000 / args.n, 4),
        "preenqueued_note": "N enqueued before the workers start; time from spawn to "
        "drained minus idle spawn-to-ready time; CPU minus idle start-up CPU",
    }


def scenario_latency(peer: Peer, args: Any, r: Any, workers: Workers) -> dict[str, Any]:
    start_and_wait(peer, workers, 1, "latency")
    samples = []
    for i in range(args.n):
        t0 = time.time()
        peer.enqueue_latency()
        got = r.blpop(C.STARTS, timeout=10)
        if got is None:
            workers.check_alive()
            raise RuntimeError(f"latency job {i} did not start within 10 s")
        samples.append(float(got[1]) - t0)
        time.sleep(0.02)
    out: dict[str, Any] = C.percentiles(samples)
    out["config"] = peer.config.format(procs=1)
    if peer.latency_note:
        out["note"] = peer.latency_note
    return out


def scenario_delayed(peer: Peer, args: Any, r: Any, workers: Workers) -> dict[str, Any]:
    if peer.delayed_skip:
        return {"skip": peer.delayed_skip}
    start_and_wait(peer, workers, 1, "delayed")
    rng = random.Random(42)
    for _ in range(args.n):
        delay = rng.uniform(1.0, 3.0)
        due = time.time() + delay
        peer.enqueue_delayed(delay, due)
    if not C.wait_until(lambda: r.llen(C.STARTS) >= args.n, timeout=30 + 3):
        workers.check_alive()
        raise RuntimeError(f"only {r.llen(C.STARTS)} of {args.n} delayed jobs ran in time")
    samples = []
    for raw in r.lrange(C.STARTS, 0, -1):
        start, due = (float(x) for x in raw.split())
        samples.append(start - due)
    out: dict[str, Any] = C.percentiles(samples)
    out["min_ms"] = round(min(samples) * 1000, 3)
    out["config"] = peer.config.format(procs=1)
    if peer.delayed_note:
        out["note"] = peer.delayed_note
    return out


def scenario_memory(peer: Peer, args: Any, r: Any) -> dict[str, Any]:
    peer.enqueue_one()  # create the queue's own keys first
    time.sleep(0.05)
    before = C.used_memory(r)
    for _ in range(args.n):
        peer.enqueue_one()
    time.sleep(0.05)
    after = C.used_memory(r)
    return {"bytes_per_job": round((after - before) / args.n, 1), "keys": r.dbsize()}


def run(make_peer: Callable[[str], Peer]) -> None:
    args = C.parse_args()
    url = C.url(args.db)
    os.environ["BENCH_REDIS_URL"] = url
    r = C.sync_redis(args.db)
    r.flushdb()
    peer = make_peer(url)
    workers = Workers({"BENCH_REDIS_URL": url})
    failed = True
    try:
        sc = args.scenario
        if sc == "enqueue_single":
            out = scenario_enqueue_single(peer, args)
        elif sc == "enqueue_bulk":
            out = scenario_enqueue_bulk(peer, args)
        elif sc == "process":
            out = scenario_process(peer, args, workers)
        elif sc == "latency":
            out = scenario_latency(peer, args, r, workers)
        elif sc == "delayed":
            out = scenario_delayed(peer, args, r, workers)
        elif sc == "memory":
            out = scenario_memory(peer, args, r)
        else:
            raise SystemExit(f"unknown scenario {sc}")
        failed = False
    finally:
        workers.stop(show_log=failed)
        r.flushdb()
    C.emit(out)
