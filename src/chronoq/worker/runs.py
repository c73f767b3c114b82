"""The one owner of a run's life in a worker: running, cancelling, finished.

A claimed job that may start (its limits allow it) becomes a `Run`: one asyncio
task that opens the job's context, calls the task, and hands the outcome on. The
runs also are the worker's capacity: `slot_free` wakes the fetch loop and
`capacity` (set while a slot is free) lets the doorbell take hand-offs.

A cancel request moves a run to *cancelling*: the task sees
`current_job().cancelled` and may stop by itself (raising `JobCancelled`, or any
error: it is not retried); after the cancel grace the worker cancels the run
outright. Either way the job ends `cancelled`. A plain `def` task cannot be
interrupted: cut off, its attempt ends but its thread runs on (as on a timeout).

A lease lost (another worker may own the job now) or a shutdown cancels a run
without an outcome: the job is recovered or handed back, never recorded twice.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from chronoq.core.claims import ClaimedJob
from chronoq.core.context import bind, unbind
from chronoq.redis.cancel import cancel_and_wait
from chronoq.worker.context import RunContexts
from chronoq.worker.events import JobEvents
from chronoq.worker.execution import Outcome, RunPlan, cancelled

log = logging.getLogger("chronoq.worker")

Execute = Callable[[ClaimedJob, RunPlan], Awaitable[Outcome]]


class RunState(enum.StrEnum):
    RUNNING = "running"
    CANCELLING = "cancelling"  # asked to stop: the task sees it; cut off after the grace
    FINISHED = "finished"  # its outcome is decided


@dataclass(eq=False)
class Run:
    job: ClaimedJob
    plan: RunPlan
    state: RunState = RunState.RUNNING
    task: asyncio.Task[None] | None = None
    cut_off: bool = False  # the grace ran out and the worker cancelled the run
    start_at: float | None = None  # loop time: a job claimed ahead of its due time
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class Runs:
    def __init__(
        self,
        concurrency: int,
        *,
        contexts: RunContexts,
        events: JobEvents,
        execute: Execute,
        done: Callable[[Run, Outcome], None],
        held: Callable[[], int],
        cancel_grace: float,
        on_idle: Callable[[], None],
    ) -> None:
        self._concurrency = concurrency
        self._contexts = contexts
        self._events = events
        self._execute = execute
        self._done = done
        self._held = held  # claimed jobs waiting for their limits: they hold slots too
        self._grace = cancel_grace
        self._on_idle = on_idle
        self._runs: dict[str, Run] = {}
        self.slot_free = asyncio.Event()  # a slot was freed: the fetch loop may claim
        self.capacity = asyncio.Event()  # set while a slot is free: take hand-offs
        self.capacity.set()

    def __len__(self) -> int:
        return len(self._runs)

    def free(self) -> int:
        return self._concurrency - len(self._runs) - self._held()

    def taken(self) -> None:
        """A claimed job now holds a slot (running or held for its limits)."""
        if self.free() <= 0:
            self.capacity.clear()

    def freed(self) -> None:
        self.slot_free.set()
        self.capacity.set()

    def tasks(self) -> list[asyncio.Task[None]]:
        return [run.task for run in self._runs.values() if run.task is not None]

    # -- starting ---------------------------------------------------------

    def launch(self, job: ClaimedJob, plan: RunPlan, start_at: float | None = None) -> Run:
        stale = self._runs.get(job.id)
        if stale is not None and stale.task is not None:
            # This worker stalled past the job's lease, the lease was recovered and the
            # job claimed again (here): the earlier run is no longer the job's owner.
            log.warning("chronoq: job %s claimed again; stopping its earlier run", job.id)
            stale.task.cancel()
        run = Run(job, plan, start_at=start_at)
        self._runs[job.id] = run
        run.task = asyncio.create_task(self._drive(run))
        return run

    async def _drive(self, run: Run) -> None:
        """The run's one coroutine (a layer less per job is measurable at 20k jobs/s):
        the task runs with its context bound (a plain `def` task's thread gets a copy)."""
        job, plan = run.job, run.plan
        context = self._contexts.open(job, plan)
        token = bind(context)
        began = time.monotonic()
        try:
            if run.start_at is not None:  # claimed ahead of its due time: wait for it
                await _until(run.start_at)
                began = time.monotonic()
            if run.state is RunState.CANCELLING:  # a cancel came while it waited
                outcome = cancelled(job, "cancelled before it started; not run")
            else:
                self._events.started(job, plan)
                outcome = self._after_cancel(run, await self._execute(job, plan))
        except asyncio.CancelledError:
            if not run.cut_off:
                raise  # a lost lease or a shutdown: no outcome of ours to record
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            why = f"cancelled: the run did not stop within {self._grace:g}s of the request"
            outcome = cancelled(job, why)
        finally:
            unbind(token)
            took = time.monotonic() - began
            self._end(run)
            last_report = self._contexts.close(context)
        if last_report is not None:
            await self._contexts.settle(last_report)  # the outcome is written after it
        outcome.duration = took
        self._events.finished(outcome, plan, took)
        self._done(run, outcome)

    @staticmethod
    def _after_cancel(run: Run, outcome: Outcome) -> Outcome:
        """A failure once a cancel was asked for is the task stopping on it."""
        if run.state is not RunState.CANCELLING or outcome.succeeded:
            return outcome
        if outcome.cancelled or outcome.deferred is not None:
            return outcome
        return cancelled(run.job, f"cancelled ({outcome.error})", outcome.traceback)

    def _end(self, run: Run) -> None:
        run.state = RunState.FINISHED
        if run.timer is not None:
            run.timer.cancel()
        if self._runs.get(run.job.id) is run:
            del self._runs[run.job.id]
        self.freed()
        if not self._runs:
            self._on_idle()

    # -- stopping ---------------------------------------------------------

    def cancel(self, job_id: str) -> bool:
        """A cancel was asked for: let the task see it, and cut the run off after
        the grace. False when the job has no run here (it may run elsewhere)."""
        run = self._runs.get(job_id)
        if run is None:
            return False
        if run.state is RunState.RUNNING:
            run.state = RunState.CANCELLING
            self._contexts.request_cancel(job_id)
            log.info("job %s %s: cancel requested; cut off in %gs unless it stops",
                     job_id, run.job.task, self._grace)  # fmt: skip
            loop = asyncio.get_running_loop()
            run.timer = loop.call_later(self._grace, self._cut_off, run)
        return True

    def _cut_off(self, run: Run) -> None:
        if run.state is RunState.CANCELLING and run.task is not None and not run.task.done():
            run.cut_off = True
            run.task.cancel()

    def lost(self, job_id: str) -> None:
        """Its lease was lost: stop the run without an outcome (another worker may
        own the job now)."""
        run = self._runs.get(job_id)
        if run is not None and run.task is not None:
            run.task.cancel()

    async def finish(self, timeout: float, forced: asyncio.Event) -> None:
        """Let the runs finish within `timeout`, or until `forced`; then cancel the
        rest (their jobs are handed back)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        force = asyncio.create_task(forced.wait())
        while self._runs and not force.done() and loop.time() < deadline:
            await asyncio.wait(
                [*self.tasks(), force],
                timeout=deadline - loop.time(),
                return_when=asyncio.FIRST_COMPLETED,
            )
        force.cancel()
        await cancel_and_wait(self.tasks())


async def _until(moment: float) -> None:
    """Sleep until `moment` (the running loop's clock)."""
    delay = moment - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
