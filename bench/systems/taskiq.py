"""taskiq runner (see bench/README.md). Tasks: taskiq_tasks.py.

Config (defaults, results off):
- Worker: `taskiq worker taskiq_tasks:broker --workers P` (taskiq's own multi-process
  worker: a supervisor + P worker processes), defaults otherwise (max-async-tasks 100,
  max-prefetch 0, ack when received). Broker taskiq_redis.ListQueueBroker (BRPOP on a
  list, push-based), no result backend (taskiq's default: results are not stored).
- Enqueue: async only (`await task.kiq()`); no sync client, no bulk API. Pre-enqueue for
  `process`: kiq() calls 200 at a time (asyncio.gather); `memory`: one at a time.
- Delayed: `schedule_by_time` on a ListRedisScheduleSource with a separate
  `taskiq scheduler --update-interval 1 --skip-first-run` process (its loop runs once a
  second, the shortest it offers).
- Completion (`process`): LLEN of the queue list == 0 on 2 consecutive 10 ms polls.
  taskiq keeps no in-progress record without a result backend; with max-prefetch 0 at
  most max-async-tasks no-ops per worker are still in flight when the list empties
  (sub-millisecond each), so this can only flatter taskiq slightly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

import _common as C  # noqa: E402
import _peers  # noqa: E402

CONFIG = (
    "taskiq worker --workers {procs}, max-async-tasks 100 (default), ListQueueBroker, "
    "no result backend"
)


def make_peer(args: Any) -> _peers.Peer:
    import taskiq_tasks as t  # reads BENCH_DB, set by the driver

    r = C.aux_redis(args.url)
    taskiq = _peers.bin_path("taskiq")  # the console script (`python -m taskiq` imports this)

    async def enqueue_fast(n: int, width: int = 200) -> None:
        for start in range(0, n, width):
            await asyncio.gather(*(t.noop.kiq() for _ in range(min(width, n - start))))

    async def enqueue_delayed(_delay: float, due: float) -> None:
        when = dt.datetime.fromtimestamp(due, dt.UTC)
        await t.stamp.kicker().schedule_by_time(t.source, when, due)

    def worker_cmds(procs: int, scenario: str) -> list[list[str]]:
        cmds = [[taskiq, "worker", "taskiq_tasks:broker", "--workers", str(procs)]]
        if scenario == "delayed":
            sched = [taskiq, "scheduler", "taskiq_tasks:scheduler", "--update-interval", "1"]
            cmds.append([*sched, "--skip-first-run"])
        return cmds

    return _peers.Peer(
        name="taskiq",
        config=CONFIG,
        worker_cmds=worker_cmds,
        ready=lambda procs, _w: int(r.get(C.READY) or 0) >= procs,
        drained=lambda n: r.llen(t.broker.queue_name) == 0,
        drained_stable=2,
        enqueue_fast=enqueue_fast,
        enqueue_stamp=t.stamp.kiq,
        enqueue_async=t.noop.kiq,
        enqueue_delayed=enqueue_delayed,
        open=t.broker.startup,
        close=t.broker.shutdown,
        settle=2.0,  # the scheduler process starts its 1 s loop on the next whole second
        sync_skip="no sync client",
        notes={
            "enqueue_async": "awaited task.kiq()",
            "delayed": "schedule_by_time + taskiq scheduler (1 s loop)",
            "process": "pre-enqueued with kiq(), 200 concurrent; drained = list empty twice",
        },
    )


if __name__ == "__main__":
    _peers.run(make_peer)
