"""The job context of each run (`chronoq.current_job()`): made for the run, bound
around the task's call, its progress reports written to the job in the background,
its cancel flag set on request.

Progress: a report (from the loop, or from a plain `def` task's thread) only stores
the latest value and wakes one writer task per job, which writes it with
progress.lua (only while the run holds the lease); reports arriving during a write
are merged into the next one. The run's outcome is written after its last report.
A write that fails is logged at DEBUG and dropped: progress is advice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chronoq.core.claims import ClaimedJob
from chronoq.core.context import JobContext
from chronoq.redis.cancel import cancel_and_wait
from chronoq.worker.execution import RunPlan

log = logging.getLogger("chronoq.worker")
# (queue, job id, lease token, fraction, message) -> recorded: Broker.progress
ProgressWrite = Callable[[str, str, str, float, str], Awaitable[bool]]
SETTLE_PATIENCE = 2.0  # longest wait for a run's last progress write before its outcome


@dataclass(eq=False)
class _Run:
    job: ClaimedJob
    context: JobContext
    latest: tuple[float, str] | None = None
    writer: asyncio.Task[None] | None = None


class RunContexts:
    """The contexts of the runs one worker has going, by job id."""

    def __init__(self, write: ProgressWrite) -> None:
        self._write_progress = write
        self._runs: dict[str, _Run] = {}
        self._writers: set[asyncio.Task[None]] = set()
        self._loop_thread: int | None = None  # the worker loop's, learnt at the first run
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self, job: ClaimedJob, run: RunPlan) -> JobContext:
        if self._loop is None:  # runs open on the worker's loop: learn it once
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
        entry = _Run(job, JobContext.for_run(job, run.max_retries + 1, self._from_any_thread))
        self._runs[job.id] = entry
        return entry.context

    def close(self, context: JobContext) -> asyncio.Task[None] | None:
        """The run ended: forget it. Returns its progress write still going, if any."""
        entry = self._runs.get(context.id)
        if entry is None or entry.context is not context:
            return None  # a newer run of the job (claimed again) owns the id now
        del self._runs[context.id]
        return entry.writer

    async def settle(self, write: asyncio.Task[None] | None) -> None:
        """Wait (briefly) for a run's last progress write: its outcome comes after."""
        if write is not None:
            await asyncio.wait([write], timeout=SETTLE_PATIENCE)

    def request_cancel(self, job_id: str) -> bool:
        """Set the cancel flag of the job's run. False when no run of it is going here."""
        entry = self._runs.get(job_id)
        if entry is None:
            return False
        entry.context.mark_cancelled()
        return True

    async def stop(self) -> None:
        await cancel_and_wait(list(self._writers))

    # -- progress ------------------------------------------------------------

    def _from_any_thread(self, job: ClaimedJob, fraction: float, message: str) -> None:
        """A report from the task: on the loop's thread it is taken at once; from a
        plain `def` task's thread it is handed to the loop."""
        if threading.get_ident() == self._loop_thread:
            self._report(job, fraction, message)
            return
        loop = self._loop
        if loop is None:
            return  # no run was ever opened: nothing to report to
        with contextlib.suppress(RuntimeError):  # closed: a thread outlived its worker
            loop.call_soon_threadsafe(self._report, job, fraction, message)

    def _report(self, job: ClaimedJob, fraction: float, message: str) -> None:
        entry = self._runs.get(job.id)
        if entry is None or entry.job is not job:
            return  # the run ended (or the job was claimed again): not its to write
        entry.latest = (fraction, message)
        if entry.writer is None:
            entry.writer = asyncio.create_task(self._write(job, entry))
            self._writers.add(entry.writer)
            entry.writer.add_done_callback(self._writers.discard)

    async def _write(self, job: ClaimedJob, entry: _Run) -> None:
        try:
            while entry.latest is not None:
                (fraction, message), entry.latest = entry.latest, None
                await self._write_progress(job.queue, job.id, job.token, fraction, message)
        except Exception as exc:  # never the run's failure: progress is advice
            log.debug("chronoq: progress of job %s not recorded: %s", job.id, exc)
        finally:
            entry.writer = None
