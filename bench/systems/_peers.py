"""The one scenario driver, used by every runner (chronoq and each peer alike).

A runner builds a `Peer` adapter - how this system enqueues (sync and/or async), starts
its workers, tells that a queue is drained - and calls `run(make_peer)`. The timing code
below is therefore literally the same for every system; bench/README.md states the method.
Enqueue callables may be plain functions or coroutine functions (async clients): the
driver runs in one asyncio loop and awaits what needs awaiting.

- `enqueue_sync` / `enqueue_async`: N sequential calls of the system's sync / async
  single enqueue, each returned/awaited before the next; no worker. A system without one
  of the two reports skip for it.
- `enqueue_bulk`: one timed call of the bulk API (sync), no worker.
- `process`: N no-op jobs enqueued first with no worker (untimed, fastest path); then the
  clock starts, the P worker processes are spawned, and the clock stops when the
  system's own state says every job completed (polled every 10 ms). Nothing is
  subtracted: start-up is part of the time, for every system.
- `latency`: one idle worker; N stamp jobs sent open loop (exponential gaps at --rate/s,
  planned in advance from --seed, never waiting for completions), each carrying its
  send wall time; the task records its start wall time; latency = start - sent.
- `delayed`: one idle worker; N stamp jobs with due times uniform over 1..1+spread s
  after the first enqueue, each carrying its due time; lateness = start - due.
- `memory`: the DB's summed MEMORY USAGE before/after N single enqueues (sync, else async, one at a
  time; chronoq: enqueue_many, which stores the same record), no worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import _common as C

READY = C.READY
MaybeAsync = Callable[..., Any]  # a function, or a coroutine function


@dataclass
class Peer:
    name: str
    config: str  # worker config; "{procs}" is replaced by P
    worker_cmds: Callable[[int, str], list[list[str]]]  # (procs, scenario) -> commands
    ready: Callable[[int, Workers], bool]  # (procs, workers) -> every worker is ready
    drained: Callable[[int], bool]  # (n) -> every one of the n jobs completed
    enqueue_fast: MaybeAsync  # (n) enqueue n no-op jobs, fastest path (untimed)
    enqueue_stamp: MaybeAsync  # (sent_epoch) one stamp job, the system's normal call
    enqueue_sync: Callable[[], Any] | None = None
    enqueue_async: Callable[[], Awaitable[Any]] | None = None
    enqueue_bulk: Callable[[int], Any] | None = None  # (n), sync
    enqueue_delayed: MaybeAsync | None = None  # (delay_s, due_epoch)
    enqueue_memory: MaybeAsync | None = None  # (n) default: n sequential single enqueues
    open: Callable[[], Awaitable[None]] | None = None  # inside the driver's loop
    close: Callable[[], Awaitable[None]] | None = None
    sync_skip: str = "no sync enqueue API"
    async_skip: str = "no async enqueue API"
    bulk_skip: str = "no bulk API"
    delayed_skip: str = "no delay API"
    notes: dict[str, str] = field(default_factory=dict)  # scenario -> note
    drained_stable: int = 1  # consecutive polls that must agree (no in-progress record)
    settle: float = 0.5  # s after ready before an idle-worker stream starts
    env: dict[str, str] = field(default_factory=dict)  # extra worker environment


def bin_path(name: str) -> str:
    """A console script of this venv (the runner runs as bench/.venvs/NAME/bin/python)."""
    return os.path.join(os.path.abspath(os.path.dirname(sys.executable)), name)


async def call(fn: MaybeAsync, *args: Any) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class Workers:
    """Worker processes, each in its own session, logging to a temp file."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[str] = []

    def start(self, cmd: list[str]) -> None:
        fd, path = tempfile.mkstemp(prefix="bench-worker-", suffix=".log")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
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

    def log_text(self) -> str:
        text = []
        for path in self.logs:
            with contextlib.suppress(OSError), open(path, errors="replace") as f:
                text.append(f.read())
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


# -- scenarios ------------------------------------------------------------------------


def _note(peer: Peer, scenario: str, out: dict[str, Any]) -> dict[str, Any]:
    if peer.notes.get(scenario):
        out["note"] = peer.notes[scenario]
    return out


async def enqueue_sync(peer: Peer, args: Any) -> dict[str, Any]:
    fn = peer.enqueue_sync
    if fn is None:
        return {"skip": peer.sync_skip}
    fn()  # connect (and load scripts) before the clock starts
    t0 = time.perf_counter()
    for _ in range(args.n):
        fn()
    return _note(peer, "enqueue_sync", {"rate": args.n / (time.perf_counter() - t0)})


async def enqueue_async(peer: Peer, args: Any) -> dict[str, Any]:
    fn = peer.enqueue_async
    if fn is None:
        return {"skip": peer.async_skip}
    await fn()
    t0 = time.perf_counter()
    for _ in range(args.n):
        await fn()
    return _note(peer, "enqueue_async", {"rate": args.n / (time.perf_counter() - t0)})


async def enqueue_bulk(peer: Peer, args: Any) -> dict[str, Any]:
    if peer.enqueue_bulk is None:
        return {"skip": peer.bulk_skip}
    peer.enqueue_bulk(1)
    t0 = time.perf_counter()
    peer.enqueue_bulk(args.n)
    return _note(peer, "enqueue_bulk", {"rate": args.n / (time.perf_counter() - t0)})


async def wait_drained(peer: Peer, workers: Workers, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    agreeing = 0
    last_check = time.monotonic()
    while True:
        agreeing = agreeing + 1 if peer.drained(n) else 0
        if agreeing >= peer.drained_stable:
            return
        now = time.monotonic()
        if now > deadline:
            raise RuntimeError(f"jobs not done after {timeout:.0f} s")
        if now - last_check > 1:
            workers.check_alive()
            last_check = now
        await asyncio.sleep(0.01)


async def process(peer: Peer, args: Any, workers: Workers) -> dict[str, Any]:
    await call(peer.enqueue_fast, args.n)
    t0 = time.perf_counter()
    for cmd in peer.worker_cmds(args.procs, "process"):
        workers.start(cmd)
    await wait_drained(peer, workers, args.n, timeout=max(120.0, args.n / 20))
    seconds = time.perf_counter() - t0
    cpu = workers.cpu()
    out = {
        "rate": args.n / seconds,
        "cpu_s_per_1000": cpu * 1000 / args.n,
        "seconds": seconds,
        "config": peer.config.format(procs=args.procs),
    }
    return _note(peer, "process", out)


async def start_idle(peer: Peer, workers: Workers, scenario: str) -> None:
    for cmd in peer.worker_cmds(1, scenario):
        workers.start(cmd)
    deadline = time.monotonic() + 60
    while not peer.ready(1, workers):
        workers.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError("worker not ready after 60 s:\n" + workers.log_text()[-3000:])
        await asyncio.sleep(0.01)
    await asyncio.sleep(peer.settle)  # let it reach its idle wait
    workers.check_alive()


async def collect(r: Any, workers: Workers, n: int, timeout: float) -> list[tuple[float, float]]:
    """Wait until n stamp jobs recorded their start; return (start, arg) pairs."""
    deadline = time.monotonic() + timeout
    while r.llen(C.STARTS) < n:
        if time.monotonic() > deadline:
            workers.check_alive()
            raise RuntimeError(f"only {r.llen(C.STARTS)} of {n} stamp jobs started in time")
        await asyncio.sleep(0.05)
    pairs = []
    for raw in r.lrange(C.STARTS, 0, -1):
        start, arg = (float(x) for x in raw.split())
        pairs.append((start, arg))
    return pairs


async def latency(peer: Peer, args: Any, r: Any, workers: Workers) -> dict[str, Any]:
    await start_idle(peer, workers, "latency")
    offsets = C.open_loop_offsets(args.n, args.rate, args.seed)
    t0 = time.perf_counter()
    for offset in offsets:
        wait = t0 + offset - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        await call(peer.enqueue_stamp, time.time())
    sent_rate = (args.n - 1) / max(time.perf_counter() - t0, 1e-9)
    pairs = await collect(r, workers, args.n, timeout=30.0)
    out: dict[str, Any] = C.percentiles([start - sent for start, sent in pairs])
    out.update(rate_offered=args.rate, rate_sent=sent_rate, config=peer.config.format(procs=1))
    return _note(peer, "latency", out)


async def delayed(peer: Peer, args: Any, r: Any, workers: Workers) -> dict[str, Any]:
    if peer.enqueue_delayed is None:
        return {"skip": peer.delayed_skip}
    await start_idle(peer, workers, "delayed")
    base = time.time()
    for offset in C.due_offsets(args.n, args.spread, args.seed):
        due = base + offset
        await call(peer.enqueue_delayed, due - time.time(), due)
    enqueue_s = time.time() - base
    pairs = await collect(r, workers, args.n, timeout=1.0 + args.spread + 30.0)
    out: dict[str, Any] = C.percentiles([start - due for start, due in pairs])
    out.update(enqueue_s=enqueue_s, config=peer.config.format(procs=1))
    return _note(peer, "delayed", out)


async def _sequential(peer: Peer, n: int) -> None:
    if peer.enqueue_sync is not None:
        for _ in range(n):
            peer.enqueue_sync()
    elif peer.enqueue_async is not None:
        for _ in range(n):
            await peer.enqueue_async()


async def memory(peer: Peer, args: Any, r: Any) -> dict[str, Any]:
    """Sequential single enqueues by default: concurrent ones would open many
    connections, whose buffers would count as memory per job."""
    fill = peer.enqueue_memory or (lambda n: _sequential(peer, n))
    await call(fill, 1)  # the queue's own keys exist before the baseline
    before = C.db_bytes(r)
    await call(fill, args.n)
    after = C.db_bytes(r)
    out = {"bytes_per_job": (after - before) / args.n, "keys": r.dbsize()}
    return _note(peer, "memory", out)


async def _main(make_peer: Callable[[Any], Any], args: Any, r: Any) -> dict[str, Any]:
    peer: Peer = await call(make_peer, args)
    if peer.open is not None:
        await peer.open()
    workers = Workers({"BENCH_REDIS_URL": args.url, "BENCH_DB": str(args.db), **peer.env})
    failed = True
    try:
        match args.scenario:
            case "enqueue_sync":
                out = await enqueue_sync(peer, args)
            case "enqueue_async":
                out = await enqueue_async(peer, args)
            case "enqueue_bulk":
                out = await enqueue_bulk(peer, args)
            case "process":
                out = await process(peer, args, workers)
            case "latency":
                out = await latency(peer, args, r, workers)
            case "delayed":
                out = await delayed(peer, args, r, workers)
            case "memory":
                out = await memory(peer, args, r)
            case _:
                raise SystemExit(f"unknown scenario {args.scenario}")
        failed = False
    finally:
        workers.stop(show_log=failed)
        if peer.close is not None:
            await peer.close()
    return out


def run(make_peer: Callable[[Any], Any]) -> None:
    """Entry point of a runner: `python NAME.py SCENARIO --n N --db DB [--procs P] ...`."""
    args = C.parse_args()
    os.environ["BENCH_REDIS_URL"] = args.url
    os.environ["BENCH_DB"] = str(args.db)
    r = C.aux_redis(args.url)
    C.flush(r)
    try:
        out = asyncio.run(_main(make_peer, args, r))
    finally:
        C.flush(r)
    C.log(out)
    C.emit(out)
