"""RQ runner (bench/README.md contract).

Config (documented fastest, results off):
- Worker: `rq worker --quiet --worker-class rq.worker.SimpleWorker default`, one process
  per --procs (P=2 = two workers). SimpleWorker runs jobs in the worker process instead
  of forking a work horse per job: RQ's own performance notes call it about 6x faster and
  name it for "extremely short-lived" jobs, which no-ops are. BENCH_RQ_WORKER_CLASS
  overrides it (e.g. rq.Worker, the fork-per-job default). `--quiet` turns off rq's two
  INFO log lines per job. `delayed` adds `--with-scheduler` (rq's scheduler moves due
  jobs every 1 s, fixed interval).
- Results off: every job is enqueued with result_ttl=0 (rq's documented "deleted as soon
  as it finishes": no result, no finished-registry entry; default 500 s keeps both).
- Enqueue: sync only (`Queue.enqueue`); bulk: `Queue.enqueue_many([Queue.prepare_data(...)])`
  in chunks of 1000 (one pipeline each), also the pre-enqueue for `process`.
- Delayed: `Queue.enqueue_in(timedelta)`. rq stores due times in whole seconds, so jobs
  may start up to 1 s early (negative lateness; ranked by magnitude).
- Completion (`process`): the workers' own successful_job_count (HINCRBY in the same
  pipeline as the job's success) summed over rq:workers >= N.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named rq.py: import the real package with bench/systems off sys.path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
from datetime import timedelta  # noqa: E402

from rq import Queue  # noqa: E402

sys.path.append(_HERE)
import _common as C  # noqa: E402
import _peers  # noqa: E402

CHUNK = 1000
WORKER_CLASS = os.environ.get("BENCH_RQ_WORKER_CLASS", "rq.worker.SimpleWorker")


def make_peer(args: Any) -> _peers.Peer:
    import rq_tasks as t

    conn = C.aux_redis(args.url)
    q = Queue("default", connection=conn)

    def enqueue_bulk(n: int) -> None:
        for start in range(0, n, CHUNK):
            k = min(CHUNK, n - start)
            q.enqueue_many([Queue.prepare_data(t.noop, result_ttl=0) for _ in range(k)])

    def worker_cmds(procs: int, scenario: str) -> list[list[str]]:
        cmd = [_peers.bin_path("rq"), "worker", "--url", args.url, "--quiet"]
        cmd += ["--worker-class", WORKER_CLASS]
        if scenario == "delayed":
            cmd.append("--with-scheduler")
        return [[*cmd, "default"] for _ in range(procs)]

    def drained(n: int) -> bool:
        pipe = conn.pipeline(transaction=False)
        for key in conn.smembers("rq:workers"):
            pipe.hget(key, "successful_job_count")
        return sum(int(c or 0) for c in pipe.execute()) >= n

    return _peers.Peer(
        name="rq",
        config=f"{{procs}} x `rq worker --quiet --worker-class {WORKER_CLASS}`; result_ttl 0",
        worker_cmds=worker_cmds,
        ready=lambda procs, _w: conn.scard("rq:workers") >= procs,
        drained=drained,
        enqueue_fast=enqueue_bulk,
        enqueue_stamp=lambda sent: q.enqueue(t.stamp, sent, result_ttl=0),
        enqueue_sync=lambda: q.enqueue(t.noop, result_ttl=0),
        enqueue_bulk=enqueue_bulk,
        enqueue_delayed=lambda d, due: q.enqueue_in(
            timedelta(seconds=max(d, 0.0)), t.stamp, due, result_ttl=0
        ),
        async_skip="no async client",
        notes={
            "enqueue_sync": "Queue.enqueue(result_ttl=0)",
            "enqueue_bulk": f"Queue.enqueue_many + Queue.prepare_data, {CHUNK} jobs per call",
            "process": f"pre-enqueued with enqueue_many, {CHUNK} per call",
            "delayed": "Queue.enqueue_in; rq worker --with-scheduler polls every 1 s (fixed)",
        },
    )


if __name__ == "__main__":
    _peers.run(make_peer)
