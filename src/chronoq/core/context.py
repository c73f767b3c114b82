"""What a running task can learn about its own run: `chronoq.current_job()`.

The worker binds a `JobContext` to the run's context variable before it calls the
task; a plain `def` task runs in a thread with a copy of that context, so the same
call works in both kinds of task. Pure: the worker hands in how progress is
recorded (a callable that never blocks) and the event it sets to cancel the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar, Token
from datetime import UTC, datetime

from chronoq.core.claims import ClaimedJob
from chronoq.core.errors import ConfigurationError, JobCancelled, NotInJob

PROGRESS_MESSAGE_MAX = 500  # characters kept of a progress message
ProgressSink = Callable[[float, str], None]
# The worker's sink: told which run reported (one callable for all its runs).
RunProgressSink = Callable[[ClaimedJob, float, str], None]


def _no_sink(job: ClaimedJob, fraction: float, message: str) -> None:
    """A context made without a worker (tests of user code) records nothing."""


def _to(report: ProgressSink) -> RunProgressSink:
    def sink(_job: ClaimedJob, fraction: float, message: str) -> None:
        report(fraction, message)

    return sink


class JobContext:
    """One run of one job, as the task sees it. Times are the server's, in UTC.

    `scheduled_at` is when this attempt was due: the delay's or retry's time, else
    the enqueue. `schedule` and `schedule_due` are set when a schedule made the job.
    `fence` is the fencing token of the job's lock key (`lock=` on the task): it
    grows with every run holding that key, so a store that keeps the highest seen
    can refuse a write from a run that lost the key. None without a lock key.

    Made for every run, so it is cheap: the worker's contexts (`for_run`) read the
    claimed job they were made from instead of copying its fields, and the times
    stay the server's epoch milliseconds until read.
    """

    __slots__ = ("_cancelled", "_job", "_sink", "max_attempts")

    def __init__(
        self,
        *,
        id: str,
        task: str,
        queue: str,
        attempt: int,
        max_attempts: int,
        enqueued_ms: int | None = None,
        run_at_ms: int | None = None,
        started_ms: int | None = None,
        schedule: str | None = None,
        schedule_due_ms: int | None = None,
        account: str | None = None,
        fence: int | None = None,
        progress_sink: ProgressSink | None = None,
    ) -> None:
        job = ClaimedJob(
            id=id,
            queue=queue,
            task=task,
            payload="",
            attempts=attempt,
            max_retries=max_attempts - 1,
            options=None,
            token="",
            enqueued_ms=enqueued_ms,
            run_at_ms=run_at_ms,
            started_ms=started_ms,
            schedule=schedule,
            schedule_due_ms=schedule_due_ms,
            account=account,
            fence=fence,
        )
        self._set(job, max_attempts, _no_sink if progress_sink is None else _to(progress_sink))

    @classmethod
    def for_run(cls, job: ClaimedJob, max_attempts: int, sink: RunProgressSink) -> JobContext:
        """The worker's context of a run of `job`: its reports go to `sink(job, ...)`."""
        context = cls.__new__(cls)
        context._set(job, max_attempts, sink)
        return context

    def _set(self, job: ClaimedJob, max_attempts: int, sink: RunProgressSink) -> None:
        self._job = job
        self.max_attempts = max_attempts
        self._sink = sink
        self._cancelled = False

    @property
    def id(self) -> str:
        return self._job.id

    @property
    def task(self) -> str:
        return self._job.task

    @property
    def queue(self) -> str:
        return self._job.queue

    @property
    def attempt(self) -> int:
        return self._job.attempts

    @property
    def schedule(self) -> str | None:
        return self._job.schedule

    @property
    def account(self) -> str | None:
        return self._job.account

    @property
    def fence(self) -> int | None:
        return self._job.fence

    def __repr__(self) -> str:
        return f"<JobContext {self.id} {self.task} attempt {self.attempt}/{self.max_attempts}>"

    @property
    def enqueued_at(self) -> datetime | None:
        return _moment(self._job.enqueued_ms)

    @property
    def scheduled_at(self) -> datetime | None:
        return _moment(self._job.run_at_ms or self._job.enqueued_ms)

    @property
    def started_at(self) -> datetime | None:
        return _moment(self._job.started_ms)

    @property
    def schedule_due(self) -> datetime | None:
        return _moment(self._job.schedule_due_ms)

    @property
    def cancelled(self) -> bool:
        """Whether the worker was asked to cancel this run."""
        return self._cancelled

    def raise_if_cancelled(self) -> None:
        """Raise JobCancelled if the worker was asked to cancel this run."""
        if self._cancelled:
            raise JobCancelled(f"job {self.id} ({self.task}) was cancelled")

    def mark_cancelled(self) -> None:
        """The worker's side: a cancel was asked for (a flag read from any thread)."""
        self._cancelled = True

    def report_progress(self, fraction: float, message: str = "") -> None:
        """Store how far the run got (0.0 to 1.0) and what it is doing: shown by
        `chronoq job ID`. Never blocks, from async and plain `def` tasks alike: the
        worker writes the latest report in the background (reports made faster than
        Redis answers are merged; the last one wins)."""
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ConfigurationError(f"progress must be a number within 0..1, got {fraction!r}")
        if not (math.isfinite(fraction) and 0 <= fraction <= 1):
            raise ConfigurationError(f"progress must be within 0..1, got {fraction!r}")
        if not isinstance(message, str):
            raise ConfigurationError(f"progress message must be text, got {message!r}")
        self._sink(self._job, float(fraction), message[:PROGRESS_MESSAGE_MAX])


def _moment(millis: int | None) -> datetime | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, tz=UTC)


_CURRENT: ContextVar[JobContext] = ContextVar("chronoq_current_job")


def current_job() -> JobContext:
    """The run of the task calling this (async or plain `def`). NotInJob outside one."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise NotInJob(
            "chronoq.current_job() was called outside a running task: only code a "
            "chronoq worker runs as a task (and what it calls) has a job context"
        ) from None


def report_progress(fraction: float, message: str = "") -> None:
    """`current_job().report_progress(fraction, message)`; NotInJob outside a task."""
    current_job().report_progress(fraction, message)


def bind(context: JobContext) -> Token[JobContext]:
    """Make `context` the current job of this (asyncio task's) context; `unbind` after."""
    return _CURRENT.set(context)


def unbind(token: Token[JobContext]) -> None:
    _CURRENT.reset(token)
