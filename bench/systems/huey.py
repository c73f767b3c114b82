"""Huey runner (bench/README.md contract).

Worker config: RedisHuey("bench") (blocking BRPOP with read_timeout 1 s, so the
consumer's -d/-m/-b poll delays never apply to the queue), consumer
`huey_consumer huey_tasks.huey -w 1 -k thread -q` for P=1 and `-w P -k process -q` for
P>1 (huey's multi-core mode). `-q` turns off huey's INFO log lines per task (celery and
dramatiq do not log per job by default). Scheduler interval: the default and minimum,
1 s (`-s` takes whole seconds), which bounds `delayed` lateness.
Readiness: an on_startup hook INCRs bench:ready once per worker.
Enqueue: `task()`; no bulk enqueue API (`task.map()` enqueues one by one), so
enqueue_bulk is skipped and `process` enqueues with task() in a loop.
Delayed: `task.schedule(args=(due,), delay=s)`.
Completion (`process`): LLEN huey.redis.bench == 0 on 2 consecutive 10 ms polls (huey
keeps no in-progress record; the last no-op may still be finishing, sub-millisecond).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named huey.py: import the real package with bench/systems off sys.path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import huey  # noqa: E402, F401
import redis  # noqa: E402

sys.path.append(_HERE)
import _peers  # noqa: E402


def make_peer(url: str) -> _peers.Peer:
    import huey_tasks as t

    conn = redis.Redis.from_url(url)
    queue_key = t.huey.storage.queue_key

    def enqueue_fast(n: int) -> None:
        for _ in range(n):
            t.noop()

    def worker_cmds(procs: int, scenario: str) -> list[list[str]]:
        kind = "thread" if procs == 1 else "process"
        return [
            [
                _peers.bin_path("huey_consumer"),
                "huey_tasks.huey",
                "-w",
                str(procs),
                "-k",
                kind,
                "-q",
            ]
        ]

    def ready(procs: int, _w: _peers.Workers) -> bool:
        return int(conn.get(_peers.READY) or 0) >= procs

    def drained(n: int) -> bool:
        return conn.llen(queue_key) == 0

    return _peers.Peer(
        name="huey",
        config="RedisHuey, huey_consumer -w {procs} -q, -k thread if P=1 else -k process",
        enqueue_one=t.noop,
        enqueue_fast=enqueue_fast,
        enqueue_latency=t.record_start,
        enqueue_delayed=lambda d, due: t.record_delayed.schedule(args=(due,), delay=d),
        worker_cmds=worker_cmds,
        ready=ready,
        drained=drained,
        enqueue_bulk=None,
        bulk_skip="no bulk API (task.map() enqueues one at a time)",
        drained_stable=2,
        preenqueue_variant=True,
        process_note="task() loop while the workers run (no bulk API)",
        delayed_note="task.schedule(delay=s); consumer scheduler runs every 1 s (minimum)",
    )


if __name__ == "__main__":
    _peers.run(make_peer)
