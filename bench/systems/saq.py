"""SAQ runner (see bench/README.md).

Config (defaults, results off):
- Worker: saq.Worker via its API (`python saq.py worker --db DB`), one asyncio worker per
  process, all defaults: concurrency 10, dequeue by blocking BLMOVE, timers: schedule 1 s
  (moves due scheduled jobs), sweep 60 s, abort 1 s.
- Results off: every job is enqueued with ttl=-1 (SAQ's documented "disabled": the job
  record and its result are deleted at the finish; default ttl 600 s keeps them).
- Enqueue: async only (`await Queue.enqueue`); no sync client; no bulk API (Queue.map
  enqueues one job per call and waits for the results). Pre-enqueue for `process`:
  Queue.enqueue calls 200 at a time (asyncio.gather); `memory`: one at a time.
- Delayed: Queue.enqueue(scheduled=epoch seconds).
- Completion (`process`): ZCARD of the queue's `incomplete` ZSET == 0 (a job leaves it
  when it finishes).
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
from saq import Queue, Worker  # noqa: E402

CONFIG = "{procs} process(es) x saq Worker, defaults (concurrency 10, schedule timer 1 s); ttl -1"
TTL_OFF = -1


def make_queue(db: int) -> Queue:
    return Queue.from_url(C.url(db))


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def stamp(ctx: dict[str, Any], *, t: float) -> None:
    C.record_start(t)


async def on_startup(ctx: dict[str, Any]) -> None:
    C.mark_ready()


def worker_main(db: int) -> None:
    async def go() -> None:
        queue = make_queue(db)
        await queue.connect()
        await Worker(queue, functions=[noop, stamp], startup=on_startup).start()

    asyncio.run(go())


def make_peer(args: Any) -> _peers.Peer:
    r = C.aux_redis(args.url)
    queue = make_queue(args.db)

    async def enqueue_fast(n: int, width: int = 200) -> None:
        for start in range(0, n, width):
            await asyncio.gather(
                *(queue.enqueue("noop", ttl=TTL_OFF) for _ in range(min(width, n - start)))
            )

    def worker_cmds(procs: int, _scenario: str) -> list[list[str]]:
        return [[sys.executable, __file__, "worker", "--db", str(args.db)] for _ in range(procs)]

    async def close() -> None:
        await queue.disconnect()

    return _peers.Peer(
        name="saq",
        config=CONFIG,
        worker_cmds=worker_cmds,
        ready=lambda procs, _w: int(r.get(C.READY) or 0) >= procs,
        drained=lambda n: r.zcard(queue._incomplete) == 0,
        enqueue_fast=enqueue_fast,
        enqueue_stamp=lambda sent: queue.enqueue("stamp", t=sent, ttl=TTL_OFF),
        enqueue_async=lambda: queue.enqueue("noop", ttl=TTL_OFF),
        enqueue_delayed=lambda d, due: queue.enqueue("stamp", t=due, scheduled=due, ttl=TTL_OFF),
        open=queue.connect,
        close=close,
        sync_skip="no sync client",
        notes={
            "enqueue_async": "awaited Queue.enqueue(ttl=-1)",
            "delayed": "Queue.enqueue(scheduled=epoch s); due jobs moved by the 1 s schedule timer",
            "process": "pre-enqueued with Queue.enqueue, 200 concurrent",
        },
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main(C.parse_args().db)
        return
    _peers.run(make_peer)


if __name__ == "__main__":
    main()
