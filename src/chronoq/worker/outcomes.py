"""Writing run outcomes to Redis in batches.

Successes that finish while a write is in flight are written together in the next
one, so a busy worker pays about one round trip per batch, not per job.

Supervision (see `chronoq.worker.runner`): Redis faults are waited out in
`persist` (the writer keeps trying while the worker drains); a permanent one
raises `RedisUnusable` (fatal: the batch stays unrecorded, its leases expire and
the jobs run again). A batch the server refuses for another reason is logged and
dropped the same way. Any other error ends `run`, which the supervisor restarts
with backoff; outcomes added meanwhile wait in `_pending`.

Metrics rollups are counted here, where outcomes are written already: each batch's
outcomes (as recorded: a lost lease counts nothing) are tallied per queue, task and
minute in Python (`RollupBatch`, list arithmetic) and written in one pipelined
round trip (`RollupStore.write`) at most every `FLUSH_EVERY` seconds (the cells
are per minute: a busy worker sends one write a second, not one per batch), and
by `drain` (a stopping worker). A rollup write that fails is kept for the next
one (up to `_MAX_CELLS` cells), never retried with the outcomes: it must not
record a job twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable

from chronoq.core.failures import ErrorClassifier, failure
from chronoq.core.job import JobStatus
from chronoq.core.rollups import COUNT_AT, HIST_AT, RollupBatch, add_observation
from chronoq.redis.broker import Broker
from chronoq.redis.errors import RedisUnusable
from chronoq.redis.rollups import RollupStore
from chronoq.worker.execution import Outcome
from chronoq.worker.recycling import resident_memory
from chronoq.worker.resilience import Outages

log = logging.getLogger("chronoq.worker")

FLUSH_EVERY = 1.0  # seconds between two rollup writes, at most (while counts wait)
RSS_EVERY = 0.2  # seconds one RSS reading is used for (outcomes record it)
_MAX_CELLS = 10_000  # rollup cells kept while their writes fail (then dropped, logged)
_STARTED, _RUN, _WAIT = COUNT_AT["started"], HIST_AT["run"], HIST_AT["wait"]
_COUNTED = {
    JobStatus.RETRYING: ("retried", "failed"),
    JobStatus.DEAD: ("dead", "failed"),
    JobStatus.CANCELLED: ("cancelled",),
}


class OutcomeWriter:
    def __init__(
        self,
        broker: Broker,
        *,
        retention_ms: int,
        result_ttl_ms: int,
        on_written: Callable[[Outcome], None],
        outages: Outages,
        classifier: ErrorClassifier | None = None,
        cancelled_retention_ms: int | None = None,
        measure: Callable[[], int | None] = resident_memory,
        rollups: RollupStore | None = None,
    ) -> None:
        self._broker = broker
        self._classifier = classifier or ErrorClassifier()
        self._outages = outages
        self._retention_ms = retention_ms
        self._cancelled_retention_ms = cancelled_retention_ms or retention_ms
        self._measure = measure
        self._rss: int | None = None
        self._rss_until = 0.0  # monotonic time the last RSS reading is kept until
        self._result_ttl_ms = result_ttl_ms
        self._on_written = on_written
        self._pending: list[Outcome] = []
        self._rollups = rollups
        self._tally = RollupBatch()
        self._next_flush = 0.0  # loop time of the next rollup write (0: the first at once)
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        self._idle.clear()
        self._ready.set()

    def count(self, queue: str, task: str, name: str, at_ms: int | None = None) -> None:
        """Count a job event no outcome carries (throttled, expired) into the rollups,
        written with the next batch (one is started if none is pending)."""
        if self._rollups is not None:
            self._tally.count(queue, task, name, at_ms or int(time.time() * 1000))
            self._ready.set()

    async def run(self) -> None:
        """Write pending outcomes forever (cancel to stop; call `drain` first)."""
        if self._pending:  # restarted by the supervisor with outcomes waiting
            self._ready.set()
        while True:
            await self._wait_ready()
            self._ready.clear()
            batch, self._pending = self._pending, []
            try:
                await self._outages.persist(
                    lambda b=batch: self._write(b),  # type: ignore[misc]
                    "recording job outcomes",
                )
            except RedisUnusable:
                raise
            except Exception:
                # Not transient (a bug, or a server refusing the script). Dropping the
                # leases below lets them expire: these jobs run again elsewhere.
                log.exception("chronoq: could not record %d outcome(s)", len(batch))
            for outcome in batch:
                self._on_written(outcome)
            if not self._pending:
                self._idle.set()

    async def _wait_ready(self) -> None:
        """Until outcomes are pending; meanwhile write the rollups when they are due.

        The wait for the next rollup write is an `asyncio.timeout` on the event, not
        `asyncio.wait_for`: on Python 3.11 that makes a Task per call, and an idle
        worker waits here once per job (rollups are pending after every outcome)."""
        loop = asyncio.get_running_loop()
        while not self._ready.is_set():
            if not self._tally:
                await self._ready.wait()
                return
            delay = self._next_flush - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._ready.wait()
            else:
                await self._write_rollups()

    async def drain(self) -> None:
        """Wait until every outcome added so far is written, and the rollups counted."""
        await self._idle.wait()
        await self._write_rollups(force=True)

    def _memory(self) -> int | None:
        """The process's RSS as these runs ended, recorded with each: read at most every
        `RSS_EVERY` seconds (a read of /proc per batch was 3 % of a busy worker's CPU;
        the RSS of a process moves slowly next to a batch's milliseconds)."""
        now = time.monotonic()
        if now >= self._rss_until:
            self._rss, self._rss_until = self._measure(), now + RSS_EVERY
        return self._rss

    def _failure(self, outcome: Outcome) -> str:
        """The attempt's group and class, from the exception that failed it ('' when
        nothing raised: a bad record; or a cancel, which is no failure)."""
        if outcome.exc_type is None or outcome.cancelled:
            return ""
        found = failure(outcome.job.task, outcome.exc_type, outcome.error or "", self._classifier)
        return found.wire

    async def _write(self, batch: list[Outcome]) -> None:
        memory = self._memory()
        successes: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in batch:
            job = outcome.job
            if outcome.succeeded:
                successes[job.queue].append(outcome)
                continue
            status = await self._broker.fail(
                job.queue,
                job.id,
                job.token,
                error=outcome.error or "",
                traceback=outcome.traceback,
                retry_in_ms=None if outcome.retry_in is None else int(outcome.retry_in * 1000),
                cancelled=outcome.cancelled,
                retention_ms=self._cancelled_retention_ms,
                failure=self._failure(outcome),
                memory=memory,
            )
            if status is None:
                log.warning("chronoq: job %s lost its lease; its failure was not recorded", job.id)
            elif self._rollups is not None:
                self._tally_outcome(outcome, _COUNTED.get(status, ()))
        for queue, outcomes in successes.items():
            stale = await self._broker.complete(
                queue,
                [(o.job.id, o.job.token, o.result_json) for o in outcomes],
                retention_ms=self._retention_ms,
                result_ttl_ms=self._result_ttl_ms,
                memory=memory,
            )
            for job_id in stale:
                log.warning("chronoq: job %s lost its lease; its result was discarded", job_id)
            if self._rollups is not None:
                lost = set(stale)
                for o in outcomes:
                    if not lost or o.job.id not in lost:
                        self._tally_outcome(o, ("succeeded",))
        await self._write_rollups()

    def _tally_outcome(self, outcome: Outcome, counts: tuple[str, ...]) -> None:
        """One recorded attempt: started and its ending, in the minute it ended; its
        wait and run time; the job's enqueue in its own minute on its first attempt."""
        job, tally = outcome.job, self._tally
        queue, task, started = job.queue, job.task, job.started_ms
        took = outcome.duration
        if started is not None and took is not None:
            ended = started + int(took * 1000)
        else:
            ended = int(time.time() * 1000)
        cell = tally.cell(queue, task, ended)  # one lookup for what happens in its minute
        cell[_STARTED] += 1
        for name in counts:
            cell[COUNT_AT[name]] += 1
        if took is not None:
            add_observation(cell, _RUN, took * 1000)
        if started is None:
            return
        due = job.run_at_ms or job.enqueued_ms
        if due is not None:
            add_observation(cell, _WAIT, max(0, started - due))
        if job.attempts == 1:
            if job.enqueued_ms is not None:
                tally.count(queue, task, "enqueued", job.enqueued_ms)
            if job.schedule_due_ms is not None:
                tally.observe(queue, task, "late", ended, max(0, started - job.schedule_due_ms))

    async def _write_rollups(self, *, force: bool = False) -> None:
        if self._rollups is None or not self._tally:
            return
        now = asyncio.get_running_loop().time()
        if not force and now < self._next_flush:
            return
        self._next_flush = now + FLUSH_EVERY
        tally, self._tally = self._tally, RollupBatch()
        try:
            await self._rollups.write(tally)
        except Exception as exc:
            tally.merge(self._tally)
            if len(tally.cells) > _MAX_CELLS:
                log.warning("chronoq: dropped %d metrics rollup cell(s): %s", len(tally.cells), exc)
                return
            self._tally = tally
