"""Dramatiq runner (bench/README.md contract).

Config (defaults, results off):
- Worker: `dramatiq dramatiq_tasks -p P -t 8` (P processes x 8 threads, the default
  thread count), RedisBroker with the default middleware, default worker_timeout
  1000 ms. The Redis broker polls (no blocking pop): an idle consumer backs off up to
  worker_timeout; delayed messages are held by the worker and moved to the work queue
  when due.
- Results off: no Results middleware (dramatiq's default: nothing is stored).
- Enqueue: sync only (`actor.send()`); no async client; no bulk API (group(...).run()
  sends one by one), so enqueue_bulk is skipped and the pre-enqueue for `process` is
  send() in a loop.
- Delayed: `send_with_options(args=(due,), delay=ms)`.
- Readiness: "Worker process is ready for action." in the worker log, once per process.
- Completion (`process`): HLEN dramatiq:default.msgs == 0 and LLEN dramatiq:default == 0
  (a message leaves the hash when it is acked, after the actor ran).
"""

from __future__ import annotations

import os
import sys
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named dramatiq.py: import the real package with bench/systems off sys.path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
import dramatiq  # noqa: E402, F401

sys.path.append(_HERE)
import _common as C  # noqa: E402
import _peers  # noqa: E402

THREADS = 8
READY_LINE = "is ready for action"


def make_peer(args: Any) -> _peers.Peer:
    import dramatiq_tasks as t

    conn = C.aux_redis(args.url)

    def enqueue_fast(n: int) -> None:
        for _ in range(n):
            t.noop.send()

    def worker_cmds(procs: int, _scenario: str) -> list[list[str]]:
        cmd = [_peers.bin_path("dramatiq"), "dramatiq_tasks"]
        return [[*cmd, "-p", str(procs), "-t", str(THREADS)]]

    def drained(n: int) -> bool:
        return conn.hlen("dramatiq:default.msgs") == 0 and conn.llen("dramatiq:default") == 0

    return _peers.Peer(
        name="dramatiq",
        config=f"dramatiq -p {{procs}} -t {THREADS}, RedisBroker defaults, no results",
        worker_cmds=worker_cmds,
        ready=lambda procs, w: w.log_text().count(READY_LINE) >= procs,
        drained=drained,
        enqueue_fast=enqueue_fast,
        enqueue_stamp=t.stamp.send,
        enqueue_sync=t.noop.send,
        enqueue_delayed=lambda d, due: t.stamp.send_with_options(
            args=(due,), delay=max(int(d * 1000), 0)
        ),
        async_skip="no async client",
        bulk_skip="no bulk API (group(...).run() sends messages one at a time)",
        notes={
            "enqueue_sync": "actor.send()",
            "process": "pre-enqueued with actor.send() in a loop (no bulk API)",
            "latency": "RedisBroker polls with backoff up to worker_timeout=1000 ms when idle",
            "delayed": "send_with_options(delay=ms); due messages moved by the worker",
        },
    )


if __name__ == "__main__":
    _peers.run(make_peer)
