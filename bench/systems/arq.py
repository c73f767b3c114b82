"""arq runner (see bench/README.md).

Config (defaults, results off):
- Worker: arq.worker.Worker via its API (`python arq.py worker --db DB`), one asyncio
  worker per process, defaults (max_jobs 10, queue_read_limit 100) except:
  keep_result=0 (arq's documented "result is not kept"; default 3600 s), and
  poll_delay = 50 ms (arq has no blocking dequeue and polls its queue ZSET; default
  0.5 s; 50 ms as in the issue's run; BENCH_ARQ_POLL_DELAY overrides it).
- Enqueue: async only (`await pool.enqueue_job`); no sync client, no bulk API.
  Pre-enqueue for `process`: enqueue_job calls 200 at a time (asyncio.gather);
  `memory`: awaited enqueue_job one at a time.
- Delayed: enqueue_job(..., _defer_by=s).
- Completion (`process`): ZCARD arq:queue == 0 (a job leaves the queue ZSET when it
  finishes); with keep_result=0 nothing else is written at the finish.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

import _common as C  # noqa: E402
import _peers  # noqa: E402
from arq import create_pool  # noqa: E402
from arq.connections import RedisSettings  # noqa: E402
from arq.constants import default_queue_name  # noqa: E402
from arq.worker import Worker  # noqa: E402

POLL_DELAY = float(os.environ.get("BENCH_ARQ_POLL_DELAY", "0.05"))
CONFIG = (
    "{procs} process(es) x arq Worker, max_jobs 10 (default), "
    f"poll_delay {POLL_DELAY * 1000:g} ms (default 500), keep_result 0"
)


def settings(db: int) -> RedisSettings:
    return RedisSettings(host="127.0.0.1", port=6379, database=db)


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def stamp(ctx: dict[str, Any], t: float) -> None:
    C.record_start(t)


async def on_startup(ctx: dict[str, Any]) -> None:
    C.mark_ready()


def worker_main(db: int) -> None:
    Worker(
        functions=[noop, stamp],
        redis_settings=settings(db),
        poll_delay=POLL_DELAY,
        keep_result=0,
        on_startup=on_startup,
    ).run()


def make_peer(args: Any) -> _peers.Peer:
    r = C.aux_redis(args.url)
    state: dict[str, Any] = {}

    async def open_pool() -> None:
        state["pool"] = await create_pool(settings(args.db))

    async def close() -> None:
        if "pool" in state:
            await state["pool"].aclose()

    async def enqueue_fast(n: int, width: int = 200) -> None:
        pool = state["pool"]
        for start in range(0, n, width):
            await asyncio.gather(*(pool.enqueue_job("noop") for _ in range(min(width, n - start))))

    def worker_cmds(procs: int, _scenario: str) -> list[list[str]]:
        return [[sys.executable, __file__, "worker", "--db", str(args.db)] for _ in range(procs)]

    return _peers.Peer(
        name="arq",
        config=CONFIG,
        worker_cmds=worker_cmds,
        ready=lambda procs, _w: int(r.get(C.READY) or 0) >= procs,
        drained=lambda n: r.zcard(default_queue_name) == 0,
        enqueue_fast=enqueue_fast,
        enqueue_stamp=lambda sent: state["pool"].enqueue_job("stamp", sent),
        enqueue_async=lambda: state["pool"].enqueue_job("noop"),
        enqueue_delayed=lambda d, due: state["pool"].enqueue_job(
            "stamp", due, _defer_by=max(d, 0.0)
        ),
        open=open_pool,
        close=close,
        sync_skip="no sync client",
        notes={
            "enqueue_async": "awaited enqueue_job",
            "delayed": "enqueue_job(_defer_by=s)",
            "process": "pre-enqueued with enqueue_job, 200 concurrent",
        },
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main(C.parse_args().db)
        return
    _peers.run(make_peer)


if __name__ == "__main__":
    main()
