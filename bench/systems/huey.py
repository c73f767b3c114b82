"""Huey runner (bench/README.md contract).

Config (defaults, results off):
- Worker: RedisHuey("bench") (blocking BRPOP with read_timeout 1 s, so the consumer's
  -d/-m/-b poll delays never apply to the queue), consumer
  `huey_consumer huey_tasks.huey -w 1 -k thread -q` for P=1 and `-w P -k process -q` for
  P>1 (huey's multi-core mode). `-q` turns off huey's INFO log lines per task. Scheduler
  interval: the default and minimum, 1 s (`-s` takes whole seconds).
- Results off: RedisHuey(results=False) (default True, though None is not stored).
- Enqueue: sync only (`task()`); no async client; no bulk API (`task.map()` enqueues one
  by one), so enqueue_bulk is skipped and the pre-enqueue for `process` is task() in a
  loop.
- Delayed: `task.schedule(args=(due,), delay=s)`.
- Readiness: an on_startup hook INCRs bench:ready once per worker.
- Completion (`process`): LLEN huey.redis.bench == 0 on 2 consecutive 10 ms polls (huey
  keeps no in-progress record; at most P no-ops may still be finishing, sub-millisecond).
"""

from __future__ import annotations

import os
import sys
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named huey.py: import the real package with bench/systems off sys.path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import huey  # noqa: E402, F401

sys.path.append(_HERE)
import _common as C  # noqa: E402
import _peers  # noqa: E402


def make_peer(args: Any) -> _peers.Peer:
    import huey_tasks as t

    conn = C.aux_redis(args.url)
    queue_key = t.huey.storage.queue_key

    def enqueue_fast(n: int) -> None:
        for _ in range(n):
            t.noop()

    def worker_cmds(procs: int, _scenario: str) -> list[list[str]]:
        kind = "thread" if procs == 1 else "process"
        cmd = [_peers.bin_path("huey_consumer"), "huey_tasks.huey"]
        return [[*cmd, "-w", str(procs), "-k", kind, "-q"]]

    return _peers.Peer(
        name="huey",
        config="RedisHuey(results=False), huey_consumer -w {procs} -q, -k thread (P=1) / process",
        worker_cmds=worker_cmds,
        ready=lambda procs, _w: int(conn.get(C.READY) or 0) >= procs,
        drained=lambda n: conn.llen(queue_key) == 0,
        drained_stable=2,
        enqueue_fast=enqueue_fast,
        enqueue_stamp=t.stamp,
        enqueue_sync=t.noop,
        enqueue_delayed=lambda d, due: t.stamp.schedule(args=(due,), delay=max(d, 0.0)),
        async_skip="no async client",
        bulk_skip="no bulk API (task.map() enqueues one at a time)",
        notes={
            "enqueue_sync": "task()",
            "process": "pre-enqueued with task() in a loop (no bulk API)",
            "delayed": "task.schedule(delay=s); consumer scheduler runs every 1 s (minimum)",
        },
    )


if __name__ == "__main__":
    _peers.run(make_peer)
