"""RQ runner (bench/README.md contract).

Worker config: `rq worker --quiet default` (default worker class rq.Worker: one job at a
time, forks a work horse per job), one `rq worker` process per --procs (P=2 = two
workers). `--quiet` turns off rq's two INFO log lines per job (celery and dramatiq do not
log per job by default). `delayed` adds `--with-scheduler` (rq's scheduler moves due jobs
every 1 s, fixed interval). BENCH_RQ_WORKER_CLASS=rq.worker.SimpleWorker (no fork per job)
can be set by hand for comparison; the harness uses the default. Measured here: the
default fork-per-job worker costs 11-16 ms CPU per job (about 55-110 jobs/s, slower as
the backlog grows), so `process` with N=20000 and P=1 takes ~6 min; SimpleWorker
does ~210-365 jobs/s. rq stores enqueue_in due times in whole seconds, so `delayed`
jobs may start up to 1 s early (negative lateness; min_ms is reported).
Enqueue: `Queue.enqueue`; bulk: `Queue.enqueue_many([Queue.prepare_data(...)])` in chunks
of 1000 (one pipeline each). Completion: ZCARD of the finished-job registry == N
(default result_ttl 500 s keeps them there).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# this file is named rq.py: import the real package with bench/systems off sys.path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
from datetime import timedelta  # noqa: E402

import redis  # noqa: E402
from rq import Queue  # noqa: E402

sys.path.append(_HERE)
import _peers  # noqa: E402

CHUNK = 1000
WORKER_CLASS = os.environ.get("BENCH_RQ_WORKER_CLASS", "")


def make_peer(url: str) -> _peers.Peer:
    import rq_tasks

    conn = redis.Redis.from_url(url)
    q = Queue("default", connection=conn)
    finished_key = q.finished_job_registry.key

    def enqueue_bulk(n: int) -> None:
        done = 0
        while done < n:
            k = min(CHUNK, n - done)
            q.enqueue_many([Queue.prepare_data(rq_tasks.noop) for _ in range(k)])
            done += k

    def worker_cmds(procs: int, scenario: str) -> list[list[str]]:
        cmd = [_peers.bin_path("rq"), "worker", "--url", url, "--quiet"]
        if WORKER_CLASS:
            cmd += ["--worker-class", WORKER_CLASS]
        if scenario == "delayed":
            cmd.append("--with-scheduler")
        return [[*cmd, "default"] for _ in range(procs)]

    def ready(procs: int, _w: _peers.Workers) -> bool:
        return conn.scard("rq:workers") >= procs

    def drained(n: int) -> bool:
        return conn.zcard(finished_key) >= n

    wc = WORKER_CLASS or "rq.Worker (fork per job)"
    return _peers.Peer(
        name="rq",
        config=f"{{procs}} x `rq worker --quiet`, {wc}",
        enqueue_one=lambda: q.enqueue(rq_tasks.noop),
        enqueue_fast=enqueue_bulk,
        enqueue_latency=lambda: q.enqueue(rq_tasks.record_start),
        enqueue_delayed=lambda d, due: q.enqueue_in(
            timedelta(seconds=d), rq_tasks.record_delayed, due
        ),
        worker_cmds=worker_cmds,
        ready=ready,
        drained=drained,
        enqueue_bulk=enqueue_bulk,
        bulk_note=f"Queue.enqueue_many + Queue.prepare_data, {CHUNK} jobs per call",
        process_note="enqueue_many in chunks of 1000 while the workers run",
        delayed_note="rq worker --with-scheduler; scheduler polls every 1 s (fixed)",
    )


if __name__ == "__main__":
    _peers.run(make_peer)
