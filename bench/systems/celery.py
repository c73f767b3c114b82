"""Celery runner (bench/README.md contract).

Worker config: `celery -A celery_tasks worker -P prefork -c P -l warning` (prefork pool,
concurrency = --procs; default prefetch multiplier 4, early ack, mingle/gossip/heartbeat
left at their defaults), Redis broker, no result backend (task_ignore_result=True).
Readiness: the `worker_ready` signal INCRs bench:ready once at startup.
Enqueue: `task.delay()`. Bulk: celery has no bulk publish (`group(...).apply_async()`
publishes one message per task), so enqueue_bulk is skipped; `process` enqueues with
`delay()` in a loop. Delayed: `apply_async(countdown=...)` (ETA held in the worker).
Completion (`process`): LLEN celery == 0 and HLEN unacked == 0 (kombu's reserved but
unacknowledged messages) on 2 consecutive 10 ms polls; celery acks when a task starts,
so the last no-op may still be finishing (sub-millisecond).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named celery.py: import the real package with bench/systems off sys.path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import celery  # noqa: E402, F401
import redis  # noqa: E402

sys.path.append(_HERE)
import _peers  # noqa: E402


def make_peer(url: str) -> _peers.Peer:
    import celery_tasks as t

    conn = redis.Redis.from_url(url)

    def enqueue_fast(n: int) -> None:
        for _ in range(n):
            t.noop.delay()

    def worker_cmds(procs: int, scenario: str) -> list[list[str]]:
        return [
            [
                _peers.bin_path("celery"),
                "-A",
                "celery_tasks",
                "worker",
                "-P",
                "prefork",
                "-c",
                str(procs),
                "-l",
                "warning",
                "-Q",
                "celery",
            ]
        ]

    def ready(procs: int, _w: _peers.Workers) -> bool:
        return int(conn.get(_peers.READY) or 0) >= 1

    def drained(n: int) -> bool:
        pipe = conn.pipeline(transaction=False)
        pipe.llen("celery")
        pipe.hlen("unacked")
        qlen, unacked = pipe.execute()
        return qlen == 0 and unacked == 0

    return _peers.Peer(
        name="celery",
        config="celery worker -P prefork -c {procs}, ignore_result",
        enqueue_one=t.noop.delay,
        enqueue_fast=enqueue_fast,
        enqueue_latency=t.record_start.delay,
        enqueue_delayed=lambda d, due: t.record_delayed.apply_async((due,), countdown=d),
        worker_cmds=worker_cmds,
        ready=ready,
        drained=drained,
        enqueue_bulk=None,
        bulk_skip="no bulk API (group().apply_async() publishes one message per task)",
        drained_stable=2,
        preenqueue_variant=True,
        process_note="task.delay() loop while the workers run (no bulk API)",
        delayed_note="apply_async(countdown=d); the worker holds ETA tasks in its timer",
    )


if __name__ == "__main__":
    _peers.run(make_peer)
