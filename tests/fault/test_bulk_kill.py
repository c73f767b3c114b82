"""The issue's bar: a bulk retry of 10,000 dead jobs whose runner process (the API
process, or `chronoq operations run`) is SIGKILLed halfway ends, resumed by another
process, with each job requeued exactly once: once in its attempt history, never
twice in the ready queue, none left dead."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis

from chronoq import Client
from chronoq.bulk import Operations
from chronoq.core.operations import Operation, OperationState
from chronoq.redis.keys import Keyspace
from tests.bulk.helpers import make_dead
from tests.fault.helpers import ROOT, free_port

JOBS = 10_000


class RunnerProcess:
    """A process running bulk operations, in its own process group, slowed down
    (small batches, a pause between them, a short lease) so that a kill lands
    halfway: the API served by uvicorn (its lifespan runs the runner), or
    `chronoq operations run`."""

    def __init__(self, kind: str, redis_url: str, prefix: str) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop)
            prefix="chronoq-ops-", suffix=".log", delete=False
        )
        if kind == "api":
            argv = [sys.executable, "-m", "uvicorn", "--factory", "tests.fault.bulk_api:make",
                    "--host", "127.0.0.1", "--port", str(free_port())]  # fmt: skip
        else:
            argv = [sys.executable, "-m", "chronoq", "operations", "run"]
        env = {**os.environ, "CHRONOQ_REDIS_URL": redis_url, "CHRONOQ_PREFIX": prefix,
               "CHRONOQ_OPERATIONS_BATCH_SIZE": "100", "CHRONOQ_OPERATIONS_PAUSE": "0.02",
               "CHRONOQ_OPERATIONS_LEASE": "1"}  # fmt: skip
        self.process = subprocess.Popen(
            argv, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env=env,
        )  # fmt: skip

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


async def progress_reaches(ops: Operations, op_id: str, least: int, timeout: float) -> Operation:
    async with asyncio.timeout(timeout):
        while True:
            op = await ops.get(op_id)
            if op.processed >= least or op.state.is_final:
                return op
            await asyncio.sleep(0.01)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["api", "cli"])
async def test_a_bulk_retry_killed_halfway_requeues_each_job_exactly_once(
    kind: str, client: Client, raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    ids = await make_dead(client, JOBS)
    ops = Operations(client)
    op = await ops.create("requeue", actor="fault-test")
    first = RunnerProcess(kind, redis_url, prefix)
    second: RunnerProcess | None = None
    try:
        await progress_reaches(ops, op.id, JOBS * 3 // 10, timeout=60)
        first.kill()
        halfway = await ops.get(op.id)
        assert halfway.state is OperationState.RUNNING, first.output()
        assert 0 < halfway.processed < JOBS and halfway.total == JOBS
        await asyncio.sleep(0.2)
        assert (await ops.get(op.id)).processed == halfway.processed  # nobody runs it now
        second = RunnerProcess(kind, redis_url, prefix)
        done = await ops.wait(op.id, timeout=90)
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert done.state is OperationState.DONE
    assert (done.total, done.processed, done.counts) == (JOBS, JOBS, {"requeued": JOBS})

    q = Keyspace(prefix).queue("default")
    pipe = raw.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(q.job(job_id), "status", "hist", "rbase")
    records = pipe.execute()
    assert {status for status, _, _ in records} == {"queued"}
    assert {hist.count('"o":"requeued"') for _, hist, _ in records} == {1}  # once each
    assert {hist.count('"o":"dead"') for _, hist, _ in records} == {1}
    assert {rbase for _, _, rbase in records} == {"1"}
    ready = raw.zrange(q.ready, 0, -1)
    assert len(ready) == JOBS and set(ready) == set(ids)  # each once, none lost
    assert raw.zcard(q.dead) == 0
