"""What a running task can learn about its own run: `chronoq.current_job()`.

The worker binds a `JobContext` to the run's context variable before it calls the
task; a plain `def` task runs in a thread with a copy of that context, so the same
call works in both kinds of task. Pure: the worker hands in how progress is
recorded (a callable that never blocks) and the event it sets to cancel the run.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime

from chronoq.core.errors import ConfigurationError, JobCancelled, NotInJob

PROGRESS_MESSAGE_MAX = 500  # characters kept of a progress message
ProgressSink = Callable[[float, str], None]


def _no_sink(fraction: float, message: str) -> None:
    """A context made without a worker (tests of user code) records nothing."""


@dataclass(frozen=True, slots=True, eq=False)
class JobContext:
    """One run of one job, as the task sees it. Times are the server's, in UTC.

    `scheduled_at` is when this attempt was due: the delay's or retry's time, else
    the enqueue. `schedule` and `schedule_due` are set when a schedule made the job.
    `fence` is the fencing token of the job's lock key (`lock=` on the task): it
    grows with every run holding that key, so a store that keeps the highest seen
    can refuse a write from a run that lost the key. None without a lock key.
    """

    id: str
    task: str
    queue: str
    attempt: int
    max_attempts: int
    enqueued_at: datetime | None
    scheduled_at: datetime | None
    started_at: datetime | None
    schedule: str | None = None
    schedule_due: datetime | None = None
    account: str | None = None
    fence: int | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    progress_sink: ProgressSink = field(default=_no_sink, repr=False)

    @property
    def cancelled(self) -> bool:
        """Whether the worker was asked to cancel this run."""
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise JobCancelled if the worker was asked to cancel this run."""
        if self.cancel_event.is_set():
            raise JobCancelled(f"job {self.id} ({self.task}) was cancelled")

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
        self.progress_sink(float(fraction), message[:PROGRESS_MESSAGE_MAX])


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
