"""chronoq runner (see bench/README.md); also runs `chronoq@REF` (a git ref's chronoq in its
own venv: the same file, a different installed package).

Config (the defaults, results off):
- Worker: one `chronoq.worker.Worker` per process (`python chronoq.py worker ...`), default
  WorkerOptions (concurrency 256 asyncio tasks and batch 256 claims per round trip; 32 and
  64 in the baseline 8ae85d4; idle_wait 1.0 s: a blocking doorbell, an idle worker is woken by the
  enqueue, not by a poll). The runs' `config` says which each used.
  P processes = P workers, each in its own session. Tasks are `async def`.
- Results off: keep_result=0, so no result value is stored (none of the peers stores one
  here either). What chronoq always writes and keeps: the finished record (the job hash,
  with status and finish time, plus its entry in the queue's done ZSET), for `retention`;
  the bench sets retention = 1 s (default 7 days), so finished records expire 1 s after
  the finish instead of piling up; the per-queue stats counters (succeeded/failed) stay.
- Enqueue: sync = SyncClient.enqueue (its own blocking connection); async = awaited
  Client.enqueue; bulk = SyncClient.enqueue_many (one call). The latency and delayed
  streams use the async Client (the slower of the two enqueue paths); the `latency_sync`
  scenario (`--stamp-client sync`) sends the same stream with SyncClient.submit, for
  the rows that compare it with the peers whose only client is sync (the `latency`
  rows and the target stay on the async Client). Pre-enqueue for
  `process` and the `memory` fill: enqueue_many (it stores the same record as a single
  enqueue).
- Completion (`process`): the queues' stats say `succeeded` >= N and nothing is waiting,
  scheduled or running (Client.queues()).
- `--queues K` (Cluster scenarios): jobs go round-robin to K queues whose hash tags land
  in K different thirds of the slot space (so on 3 different masters of a 3-master
  Cluster, and checked there); the worker serves them all with equal weights.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from itertools import cycle
from typing import Any

# This file is named like the package: move its directory to the end of sys.path so
# `import chronoq` finds the real package (and `_common` is still importable).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

import _common as C  # noqa: E402
import _peers  # noqa: E402
from redis.crc import key_slot  # noqa: E402

from chronoq import App  # noqa: E402
from chronoq.client import JobRequest  # noqa: E402
from chronoq.core.settings import Settings  # noqa: E402
from chronoq.worker import Worker, WorkerOptions  # noqa: E402

RETENTION = float(os.environ.get("BENCH_CHRONOQ_RETENTION", "1.0"))
STAMP = os.environ.get("BENCH_CHRONOQ_STAMP", "async")
_DEFAULTS = WorkerOptions()  # this package's (the baseline's are its own)
CONFIG = (
    f"{{procs}} process(es) x 1 Worker, concurrency {_DEFAULTS.concurrency}, "
    f"batch {_DEFAULTS.batch}, idle_wait {_DEFAULTS.idle_wait:g} s (doorbell); "
    f"keep_result 0, retention {RETENTION:g} s"
)
SLOTS = 16384


async def noop() -> None:
    return None


async def stamp(t: float) -> None:
    C.record_start(t)


async def _ready(_app: App) -> None:
    C.mark_ready()


def make_app(url: str) -> tuple[App, Any, Any]:
    settings = Settings(redis_url=url, prefix="bench", retention=RETENTION, keep_result=0)
    app = App("bench", settings=settings)
    noop_task = app.task(name="noop")(noop)
    stamp_task = app.task(name="stamp")(stamp)
    app.startup(_ready)
    return app, noop_task, stamp_task


def queue_names(k: int) -> list[str]:
    """`default` for one queue; else k names whose slots fall in k different k-ths of the
    slot space (where `redis-cli --cluster create` puts k masters)."""
    if k == 1:
        return ["default"]
    names: dict[int, str] = {}
    i = 0
    while len(names) < k:
        name = f"q{i}"
        names.setdefault(key_slot(name.encode()) * k // SLOTS, name)
        i += 1
    return [names[part] for part in sorted(names)]


def check_on_distinct_masters(r: Any, names: list[str]) -> None:
    nodes = {r.get_node_from_key(f"bench:{{{name}}}:ready").name for name in names}
    if len(nodes) != len(names):
        raise RuntimeError(f"queues {names} are not on {len(names)} different masters: {nodes}")


def worker_main(args: Any) -> None:
    app, _, _ = make_app(args.url)
    names = queue_names(args.queues)
    spec = names[0] if len(names) == 1 else ",".join(f"{q}=1" for q in names)

    async def go() -> None:
        worker = Worker(app, WorkerOptions(queues=spec))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.request_stop)
        await worker.run()

    asyncio.run(go())


def make_peer(args: Any) -> _peers.Peer:
    app, noop_task, stamp_task = make_app(args.url)
    names = queue_names(args.queues)
    aux = C.aux_redis(args.url)
    if C.is_cluster(args.url):
        check_on_distinct_masters(aux, names)
    client = app.sync_client()
    state: dict[str, Any] = {}
    next_queue = cycle(names)

    def requests(n: int) -> list[JobRequest]:
        return [JobRequest(noop_task, queue=next(next_queue)) for _ in range(n)]

    async def open_async() -> None:
        state["aclient"] = await app.client().__aenter__()

    async def close() -> None:
        if "aclient" in state:
            await state["aclient"].close()
        client.close()

    async def enqueue_async() -> None:
        await state["aclient"].enqueue(noop_task)

    async def enqueue_stamp_async(sent: float) -> None:
        await state["aclient"].submit(JobRequest(stamp_task, (sent,), queue=next(next_queue)))

    def enqueue_stamp_sync(sent: float) -> None:
        client.submit(JobRequest(stamp_task, (sent,), queue=next(next_queue)))

    stamp_client = args.stamp_client or STAMP
    enqueue_stamp = enqueue_stamp_sync if stamp_client == "sync" else enqueue_stamp_async

    async def enqueue_delayed(delay: float, due: float) -> None:
        request = JobRequest(stamp_task, (due,), queue=next(next_queue), delay=max(delay, 0.0))
        await state["aclient"].submit(request)

    def worker_cmds(procs: int, _scenario: str) -> list[list[str]]:
        cmd = [sys.executable, __file__, "worker", "--db", str(args.db), "--url", args.url]
        return [[*cmd, "--queues", str(args.queues)] for _ in range(procs)]

    def drained(n: int) -> bool:
        counts = client.queues()
        pending = sum(q.waiting + q.scheduled + q.running for q in counts)
        return pending == 0 and sum(q.stats.get("succeeded", 0) for q in counts) >= n

    return _peers.Peer(
        name="chronoq",
        config=CONFIG,
        worker_cmds=worker_cmds,
        ready=lambda procs, _w: int(aux.get(C.READY) or 0) >= procs,
        drained=drained,
        enqueue_fast=lambda n: client.enqueue_many(requests(n)),
        enqueue_stamp=enqueue_stamp,
        enqueue_sync=lambda: client.enqueue(noop_task),
        enqueue_async=enqueue_async,
        enqueue_bulk=lambda n: client.enqueue_many(requests(n)),
        enqueue_delayed=enqueue_delayed,
        enqueue_memory=lambda n: client.enqueue_many(requests(n)),
        open=open_async,
        close=close,
        notes={
            "enqueue_sync": "SyncClient.enqueue",
            "enqueue_async": "awaited Client.enqueue",
            "enqueue_bulk": "SyncClient.enqueue_many, one call",
            "latency": ("SyncClient.submit" if stamp_client == "sync" else "awaited Client.submit")
            + (f", {len(names)} queues" if args.queues > 1 else ""),
            "delayed": "awaited Client.submit(JobRequest(delay=s))",
            "process": "pre-enqueued with SyncClient.enqueue_many"
            + (f" round-robin over queues {','.join(names)}" if args.queues > 1 else ""),
        },
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main(C.parse_args())
        return
    _peers.run(make_peer)


if __name__ == "__main__":
    main()
