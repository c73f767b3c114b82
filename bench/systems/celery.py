"""Celery runner (bench/README.md contract).

Config (documented fastest, results off):
- Worker: `celery -A celery_tasks worker -P prefork -c P -l warning` (prefork pool,
  concurrency = --procs; early ack; mingle/gossip/heartbeat at their defaults), Redis
  broker, worker_prefetch_multiplier 64 (Celery's optimizing guide, for many short tasks;
  default 4).
- Results off: task_ignore_result=True and no result backend.
- Enqueue: sync only (`task.delay()`); no async client; no bulk publish
  (`group(...).apply_async()` publishes one message per task), so enqueue_bulk is
  skipped and the pre-enqueue for `process` is delay() in a loop.
- Delayed: `apply_async(countdown=s)` (the worker holds ETA tasks in its timer).
- Readiness: the `worker_ready` signal INCRs bench:ready once at startup.
- Completion (`process`): LLEN celery == 0 and HLEN unacked == 0 (kombu's reserved but
  unacknowledged messages) on 2 consecutive 10 ms polls; celery acks when a task
  starts, so at most P no-ops may still be finishing (sub-millisecond).
"""

from __future__ import annotations

import os
import sys
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named celery.py: import the real package with bench/systems off sys.path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import celery  # noqa: E402, F401

sys.path.append(_HERE)
import _common as C  # noqa: E402
import _peers  # noqa: E402


def make_peer(args: Any) -> _peers.Peer:
    import celery_tasks as t

    conn = C.aux_redis(args.url)

    def enqueue_fast(n: int) -> None:
        for _ in range(n):
            t.noop.delay()

    def worker_cmds(procs: int, _scenario: str) -> list[list[str]]:
        celery_bin = _peers.bin_path("celery")
        cmd = [celery_bin, "-A", "celery_tasks", "worker", "-P", "prefork", "-c", str(procs)]
        return [[*cmd, "-l", "warning", "-Q", "celery"]]

    def drained(n: int) -> bool:
        pipe = conn.pipeline(transaction=False)
        pipe.llen("celery")
        pipe.hlen("unacked")
        qlen, unacked = pipe.execute()
        return qlen == 0 and unacked == 0

    return _peers.Peer(
        name="celery",
        config="celery worker -P prefork -c {procs}, prefetch multiplier 64, ignore_result",
        worker_cmds=worker_cmds,
        ready=lambda procs, _w: int(conn.get(C.READY) or 0) >= 1,
        drained=drained,
        drained_stable=2,
        enqueue_fast=enqueue_fast,
        enqueue_stamp=t.stamp.delay,
        enqueue_sync=t.noop.delay,
        enqueue_delayed=lambda d, due: t.stamp.apply_async((due,), countdown=max(d, 0.0)),
        async_skip="no async client",
        bulk_skip="no bulk API (group().apply_async() publishes one message per task)",
        notes={
            "enqueue_sync": "task.delay()",
            "process": "pre-enqueued with task.delay() in a loop (no bulk API)",
            "delayed": "apply_async(countdown=s); the worker holds ETA tasks in its timer",
        },
    )


if __name__ == "__main__":
    _peers.run(make_peer)
