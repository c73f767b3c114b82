"""Job events in the worker: one log line per outcome, and the hooks (`app.on`,
`task.on`) run in the background.

Log lines go to the `chronoq.jobs` logger, each record carrying the fields a log
shipper wants as attributes (`extra=`): event, job_id, task, queue, attempt,
max_attempts, duration_ms, error (the exception's first line), retry_in. A started
attempt is logged at DEBUG, a success, an expiry and a cancellation at INFO, every
failed attempt at WARNING, a dead job at ERROR with its traceback.

Hooks never block the worker's loop and never change an outcome: the hooks of one
event run in a background task, one after another (the task's, then the app's),
async ones awaited on the loop, sync ones in the worker's task thread pool; the
events of one job keep their order. One that raises is logged and skipped. At
shutdown the worker waits a few seconds for hooks still running, then cancels them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chronoq.core import serialization
from chronoq.core.claims import ClaimedJob, ExpiredJob
from chronoq.core.events import EventKind, Hook, HookRegistry, JobEvent
from chronoq.redis.cancel import cancel_and_wait
from chronoq.worker.execution import Outcome, RunPlan

log = logging.getLogger("chronoq.jobs")


class JobEvents:
    """Logs and dispatches the events of the jobs one worker runs."""

    def __init__(self, hooks: HookRegistry, threads: ThreadPoolExecutor) -> None:
        self._hooks = hooks
        self._threads = threads
        self._pending: set[asyncio.Task[None]] = set()
        self._tails: dict[str, asyncio.Task[None]] = {}  # per job: its latest event's hooks

    # -- the events ----------------------------------------------------------

    def started(self, job: ClaimedJob, run: RunPlan) -> None:
        logged = log.isEnabledFor(logging.DEBUG)
        if not (logged or self._hooks.wants(EventKind.STARTED)):
            return  # the hot path: nobody listens, nothing is built
        event = _event(EventKind.STARTED, job, run, outcome="running")
        if logged:
            log.debug(
                "job %s %s started (attempt %s)", job.id, job.task, _tries(event),
                extra=_fields(event),
            )  # fmt: skip
        self._fire(event)

    def finished(self, outcome: Outcome, run: RunPlan | None, duration: float | None) -> None:
        """A run ended (or a claimed job could not run: `run` None, dead at once)."""
        job = outcome.job
        if outcome.deferred is not None:
            log.debug("job %s %s deferred %.3gs", job.id, job.task, outcome.deferred)
            return
        if outcome.succeeded:
            self._succeeded(outcome, run, duration)
            return
        if outcome.cancelled:
            self.cancelled(job, run, duration)
            return
        error = outcome.error or ""
        dead = outcome.retry_in is None
        failed = _event(
            EventKind.FAILED, job, run, outcome="dead" if dead else "retrying", error=error,
            traceback=outcome.traceback or None, duration=duration, retry_in=outcome.retry_in,
        )  # fmt: skip
        if run is not None:
            then = "no retries left" if dead else f"retrying in {outcome.retry_in:g}s"
            log.warning(
                "job %s %s attempt %s failed: %s; %s",
                job.id, job.task, _tries(failed), _first_line(error), then, extra=_fields(failed),
            )  # fmt: skip
            self._fire(failed)
        if not dead:
            self._fire(_again(failed, EventKind.RETRYING))
            return
        died = _again(failed, EventKind.DEAD)
        tb = f"\n{outcome.traceback.rstrip()}" if outcome.traceback else ""
        log.error(
            "job %s %s is dead after attempt %s: %s%s",
            job.id, job.task, _tries(died), error, tb, extra=_fields(died),
        )  # fmt: skip
        self._fire(died)

    def _succeeded(self, outcome: Outcome, run: RunPlan | None, duration: float | None) -> None:
        hooked = self._hooks.wants(EventKind.SUCCEEDED)
        logged = log.isEnabledFor(logging.INFO)
        if not (hooked or logged):
            return  # the hot path: nobody listens, nothing is built
        job = outcome.job
        result = None
        if outcome.result_json and hooked:
            result = serialization.loads(outcome.result_json)
        event = _event(
            EventKind.SUCCEEDED, job, run, outcome="succeeded", result=result, duration=duration
        )
        if logged:
            log.info(
                "job %s %s succeeded in %s ms (attempt %s)",
                job.id, job.task, _millis(duration), _tries(event), extra=_fields(event),
            )  # fmt: skip
        self._fire(event)

    def expired(self, queue: str, job: ExpiredJob) -> None:
        """A claim found the job past its deadline and ended it."""
        event = JobEvent(
            EventKind.EXPIRED, job.id, job.task, queue, attempt=job.attempts, outcome="expired",
            error="deadline passed before the job could start",
        )  # fmt: skip
        log.info("job %s %s expired: its deadline passed before it could start",
                 job.id, job.task, extra=_fields(event))  # fmt: skip
        self._fire(event)

    def cancelled(self, job: ClaimedJob, run: RunPlan | None, duration: float | None) -> None:
        """A run a cancel stopped (`chronoq cancel ID`, `Client.cancel`)."""
        event = _event(EventKind.CANCELLED, job, run, outcome="cancelled", duration=duration)
        log.info("job %s %s cancelled (attempt %s)", job.id, job.task, _tries(event),
                 extra=_fields(event))  # fmt: skip
        self._fire(event)

    # -- hooks ---------------------------------------------------------------

    def _fire(self, event: JobEvent) -> None:
        if not self._hooks.wants(event.kind):
            return
        chain = self._hooks.chain(event.kind, event.task)
        if not chain:
            return
        task = asyncio.create_task(self._run_chain(chain, event, self._tails.get(event.job_id)))
        self._tails[event.job_id] = task
        self._pending.add(task)
        task.add_done_callback(lambda done: self._forget(event.job_id, done))

    def _forget(self, job_id: str, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if self._tails.get(job_id) is task:
            del self._tails[job_id]

    async def _run_chain(
        self, chain: list[Hook], event: JobEvent, previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # the job's earlier event first
        loop = asyncio.get_running_loop()
        for hook in chain:
            try:
                if inspect.iscoroutinefunction(hook):
                    await hook(event)
                    continue
                result = await loop.run_in_executor(self._threads, hook, event)
                if inspect.isawaitable(result):  # a callable object returning a coroutine
                    await result
            except Exception:
                log.exception(
                    "chronoq: %s hook %r failed for job %s; the job's outcome stands",
                    event.kind, hook, event.job_id,
                )  # fmt: skip

    async def drain(self, patience: float) -> None:
        """Wait up to `patience` seconds for hooks still running, then cancel them."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=patience)
        await cancel_and_wait(list(self._pending))


def _event(
    kind: EventKind, job: ClaimedJob, run: RunPlan | None, *, outcome: str, **more: Any
) -> JobEvent:
    return JobEvent(
        kind, job.id, job.task, job.queue, attempt=job.attempts, outcome=outcome,
        max_attempts=None if run is None else run.max_retries + 1, **more,
    )  # fmt: skip


def _again(event: JobEvent, kind: EventKind) -> JobEvent:
    return dataclasses.replace(event, kind=kind)


def _fields(event: JobEvent) -> dict[str, Any]:
    """The log record's attributes for shippers (see chronoq.cli.logs)."""
    return {
        "event": event.kind.value,
        "job_id": event.job_id,
        "task": event.task,
        "queue": event.queue,
        "attempt": event.attempt,
        "max_attempts": event.max_attempts,
        "duration_ms": _millis(event.duration),
        "error": _first_line(event.error) if event.error else None,
        "retry_in": event.retry_in,
    }


def _tries(event: JobEvent) -> str:
    if event.max_attempts is None:
        return str(event.attempt)
    return f"{event.attempt}/{event.max_attempts}"


def _millis(duration: float | None) -> float | None:
    return None if duration is None else round(duration * 1000, 1)


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else text
