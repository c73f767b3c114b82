"""Dramatiq runner (bench/README.md contract).

Worker config: `dramatiq dramatiq_tasks -p P -t 8` (P processes x 8 threads), RedisBroker
with the default middleware, no results backend, default worker_timeout 1000 ms. The
Redis broker polls (no blocking pop): an idle consumer backs off up to worker_timeout
(1 s), which shows in `latency`; delayed messages are held by the worker and moved to the
work queue when due, checked on each consumer poll.
Readiness: "Worker process is ready for action." in the worker log, once per process.
Enqueue: `actor.send()`; no bulk enqueue API (group(...).run() sends one by one), so
enqueue_bulk is skipped and `process` enqueues with send() in a loop.
Delayed: `send_with_options(args=(due,), delay=ms)`.
Completion (`process`): HLEN dramatiq:default.msgs == 0 (a message leaves that hash
when it is acked, i.e. after the actor ran).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named dramatiq.py: import the real package with bench/systems off sys.path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import dramatiq  # noqa: E402, F401
import redis  # noqa: E402

sys.path.append(_HERE)
import _peers  # noqa: E402

THREADS = 8
READY_LINE = "is ready for action"


def make_peer(url: str) -> _peers.Peer:
    import dramatiq_tasks as t

    conn = redis.Redis.from_url(url)

    def enqueue_fast(n: int) -> None:
        for _ in range(n):
            t.noop.send()

    def worker_cmds(procs: int, scenario: str) -> list[list[str]]:
        return [
            [
                _peers.bin_path("dramatiq"),
                "dramatiq_tasks",
                "-p",
                str(procs),
                "-t",
                str(THREADS),
            ]
        ]

    def drained(n: int) -> bool:
        return conn.hlen("dramatiq:default.msgs") == 0 and conn.llen("dramatiq:default") == 0

    def ready(procs: int, workers: _peers.Workers) -> bool:
        return workers.log_text().count(READY_LINE) >= procs

    return _peers.Peer(
        name="dramatiq",
        config=f"dramatiq -p {{procs}} -t {THREADS}, RedisBroker defaults",
        enqueue_one=t.noop.send,
        enqueue_fast=enqueue_fast,
        enqueue_latency=t.record_start.send,
        enqueue_delayed=lambda d, due: t.record_delayed.send_with_options(
            args=(due,), delay=int(d * 1000)
        ),
        worker_cmds=worker_cmds,
        ready=ready,
        drained=drained,
        enqueue_bulk=None,
        bulk_skip="no bulk API (group(...).run() sends messages one at a time)",
        process_note="actor.send() loop while the workers run (no bulk API)",
        preenqueue_variant=True,
        latency_note="RedisBroker polls with backoff up to worker_timeout=1000 ms when idle",
        delayed_note="send_with_options(delay=ms); due messages moved by the worker",
    )


if __name__ == "__main__":
    _peers.run(make_peer)
