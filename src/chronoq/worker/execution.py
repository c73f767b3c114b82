"""Running one claimed job: decode, call with its timeout, and classify the outcome.

Nothing here touches Redis; the worker turns an `Outcome` into a broker call.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
import traceback
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chronoq.core import serialization
from chronoq.core.claims import ClaimedJob
from chronoq.core.errors import (
    JobCancelled,
    JobTimeout,
    PayloadTooLarge,
    Permanent,
    RateLimited,
    RetryAfter,
    SerializationError,
    SoftTimeLimit,
    UnknownTask,
)
from chronoq.core.job import ExtraOptions, Field, LimitRef, decode_extra_options
from chronoq.core.retry import Backoff, listed_delay
from chronoq.core.task import TaskDef, TaskRegistry
from chronoq.worker import soft_limits

_OPTIONS_DEPTH = 8  # options and reservations are shallow objects; anything deeper is not ours
_REASON_MAX = 200


@dataclass(slots=True, eq=False)  # not frozen: made per job, and frozen init costs ~1 µs
class Outcome:
    """How a run ended. `retry_in` None with an error means dead-letter now;
    `deferred` (seconds) means the task raised RateLimited: run again later, no
    attempt spent; `cancelled`: a cancel stopped it (it ends 'cancelled', the
    reason in `error`)."""

    job: ClaimedJob
    result_json: str = ""
    error: str | None = None
    traceback: str = ""
    retry_in: float | None = None
    deferred: float | None = None
    cancelled: bool = False
    exc_type: type[BaseException] | None = None  # what failed: its class and group come from it
    duration: float | None = None  # seconds the run took (monotonic); None: it never ran

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.deferred is None


@dataclass(slots=True, eq=False)  # not frozen: made per job, and frozen init costs ~1 µs
class RunPlan:
    """A job ready to call: its function, arguments and effective options."""

    task: TaskDef
    args: list[Any]
    kwargs: dict[str, Any]
    timeout: float | None
    backoff: Backoff
    max_retries: int
    limits: tuple[LimitRef, ...] = ()
    retry_delays: tuple[float, ...] | None = None  # replaces the backoff when set
    soft_timeout: float | None = None  # below timeout, or None


def plan(job: ClaimedJob, registry: TaskRegistry) -> RunPlan | Outcome:
    """Resolve a claimed job, or return a dead outcome explaining why it cannot run.

    Never raises: whatever another client wrote into the record (JSON nested 1,000
    deep, options of the wrong shape) ends the job dead with the field named.
    """
    try:
        task = registry.get(job.task)
    except UnknownTask as exc:
        return Outcome(job, error=str(exc), exc_type=UnknownTask)
    try:
        args, kwargs = serialization.decode_call(job.payload)
    except Exception as exc:  # any decode failure is this job's fault, not the worker's
        return _bad_field(job, Field.ARGS, f"holds an undecodable payload: {_reason(exc)}")
    try:
        extra = _extra_options(job.options)
    except Exception as exc:
        return _bad_field(job, Field.OPTIONS, f"is not valid options JSON: {_reason(exc)}")
    try:
        _check_reservations(job.reservations)
    except Exception as exc:
        why = f"is not valid reservations JSON: {_reason(exc)}"
        return _bad_field(job, Field.RESERVATIONS, why)
    defaults = task.defaults
    timeout = extra.timeout if extra.timeout is not None else defaults.timeout
    soft = defaults.soft_timeout
    # Positional, in RunPlan's order (a keyword costs about 0.1 us here; the order is
    # checked by tests/worker/test_execution_plan.py).
    return RunPlan(
        task,
        args,
        kwargs,
        timeout,
        extra.backoff or defaults.backoff,
        job.max_retries if job.max_retries is not None else defaults.max_retries,
        extra.limits,
        _delays(extra, defaults.retry_delays),
        # A job's own shorter timeout wins over the task's soft limit.
        soft if soft is not None and (timeout is None or soft < timeout) else None,
    )


def _delays(extra: ExtraOptions, task_delays: tuple[float, ...] | None) -> tuple[float, ...] | None:
    """The most specific retry policy wins: the job's delays, the job's backoff, the
    task's delays, then the task's backoff."""
    if extra.retry_delays is not None:
        return extra.retry_delays
    return None if extra.backoff is not None else task_delays


def _extra_options(text: str | None) -> ExtraOptions:
    """The job's 'opts' field, checked as far as the run relies on it."""
    if text:
        serialization.loads(text, what="options", max_depth=_OPTIONS_DEPTH)
    extra = decode_extra_options(text)
    timeout = extra.timeout
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
        raise ValueError(f"timeout {timeout!r} is not a number")
    if timeout is not None and not 0 < timeout < math.inf:
        raise ValueError(f"timeout {timeout!r} is not a positive number of seconds")
    if extra.backoff is not None:
        extra.backoff.delay(1)  # raises on parameters of the wrong type
    for ref in extra.limits:
        if not isinstance(ref.name, str) or not isinstance(ref.key, str):
            raise ValueError(f"limit reference {ref.name!r}, {ref.key!r} is not two strings")
    return extra


def _check_reservations(text: str | None) -> None:
    """The limit bookings the throttle decodes ({limit name: ms}); claim.lua checks
    them too, this keeps the worker safe from a reply it did not expect."""
    if not text:
        return
    value = serialization.loads(text, what="reservations", max_depth=_OPTIONS_DEPTH)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    for ms in value.values():
        int(ms)  # raises on non-numbers, NaN and infinity, as the throttle would


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 3] + "..."


def _bad_field(job: ClaimedJob, name: str, why: str) -> Outcome:
    return Outcome(job, error=f"bad job record: field {name!r} {why}")


async def execute(
    job: ClaimedJob,
    run: RunPlan,
    threads: ThreadPoolExecutor,
    *,
    max_result_bytes: int | None = None,
) -> Outcome:
    """Call the task and classify what happened. Never raises (except cancellation)."""
    try:
        value = await _call(run, threads)
    except asyncio.CancelledError:
        raise
    except (RateLimited, JobCancelled) as exc:
        return _interrupted(job, exc)
    except JobTimeout as exc:
        error = f"JobTimeout: run exceeded its timeout of {run.timeout}s"
        return _failed(job, run, error, "", exc)
    except SoftTimeLimit as exc:
        text = str(exc)
        if text == SoftTimeLimit.default_message:
            text = f"{text} of {run.soft_timeout:g}s"
        return _failed(job, run, f"SoftTimeLimit: {text}", traceback.format_exc(), exc)
    except SerializationError as exc:
        return _failed(job, run, f"SerializationError: {exc}", "", exc)
    except Exception as exc:
        return _failed(job, run, f"{type(exc).__name__}: {exc}", traceback.format_exc(), exc)
    return _succeeded(job, run, value, max_result_bytes)


def _interrupted(job: ClaimedJob, exc: RateLimited | JobCancelled) -> Outcome:
    """Not a failure: a platform said "slow down" (deferred, no attempt spent), or
    the task gave up on a cancel request."""
    if isinstance(exc, RateLimited):
        return Outcome(job, deferred=exc.retry_after)
    return cancelled(job, f"JobCancelled: {exc}", traceback.format_exc())


def cancelled(job: ClaimedJob, reason: str, tb: str = "") -> Outcome:
    """The outcome of a run a cancel stopped (the task gave up, or was cut off)."""
    return Outcome(job, error=reason, traceback=tb, cancelled=True)


def _succeeded(job: ClaimedJob, run: RunPlan, value: Any, max_bytes: int | None) -> Outcome:
    """The result as JSON; one too big to store ends the job dead (the same call
    would make it again), without writing it."""
    if value is None:
        return Outcome(job)
    try:
        result_json = serialization.dumps(
            value, what="task result", max_depth=serialization.MAX_DEPTH
        )
        if max_bytes is not None:
            serialization.check_size(result_json, "the task's result would", max_bytes)
    except PayloadTooLarge as exc:
        return Outcome(job, error=f"PayloadTooLarge: {exc}", exc_type=PayloadTooLarge)
    except SerializationError as exc:
        return _failed(job, run, f"SerializationError: {exc}", "", exc)
    return Outcome(job, result_json=result_json)


async def _call(run: RunPlan, threads: ThreadPoolExecutor) -> Any:
    coro = _start(run, threads)
    if run.timeout is None:
        return await coro
    try:
        async with asyncio.timeout(run.timeout):
            return await coro
    except TimeoutError:
        raise JobTimeout(f"timeout {run.timeout}s") from None


def _start(run: RunPlan, threads: ThreadPoolExecutor) -> Awaitable[Any]:
    """The run to await: the task's coroutine, or its call in the thread pool (a
    thread cannot be cancelled: on timeout the attempt fails, the thread runs on);
    under its soft time limit, if it has one."""
    func, soft = run.task.func, run.soft_timeout
    if run.task.is_async:
        coro = func(*run.args, **run.kwargs)
        return coro if soft is None else soft_limits.run_async(coro, soft)
    # The thread runs in a copy of this task's context: current_job() works there.
    call = functools.partial(contextvars.copy_context().run, func, *run.args, **run.kwargs)
    if soft is not None:
        return soft_limits.run_thread(threads, call, soft)
    return asyncio.get_running_loop().run_in_executor(threads, call)


def _retryable(run: RunPlan, exc: BaseException) -> bool:
    """Whether this failure may be retried at all: Permanent never, RetryAfter always
    (when attempts remain); else as the task's dont_retry and retry_on say."""
    if isinstance(exc, Permanent):
        return False
    if isinstance(exc, RetryAfter):
        return True
    defaults = run.task.defaults
    if isinstance(exc, defaults.dont_retry):
        return False
    return defaults.retry_on is None or isinstance(exc, defaults.retry_on)


def _failed(job: ClaimedJob, run: RunPlan, error: str, tb: str, exc: BaseException) -> Outcome:
    retry_number = job.attempts - job.retry_base  # attempts since its last requeue
    kind = type(exc)
    if not _retryable(run, exc) or retry_number - 1 >= run.max_retries:
        return Outcome(job, error=error, traceback=tb, retry_in=None, exc_type=kind)
    delay = exc.seconds if isinstance(exc, RetryAfter) else _retry_delay(run, retry_number)
    return Outcome(job, error=error, traceback=tb, retry_in=delay, exc_type=kind)


def _retry_delay(run: RunPlan, retry_number: int) -> float:
    """The delay list's, else the backoff's delay (which never overflows)."""
    if run.retry_delays is not None:
        return listed_delay(run.retry_delays, retry_number)
    return run.backoff.delay(retry_number)
