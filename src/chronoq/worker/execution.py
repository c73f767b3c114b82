"""Running one claimed job: decode, call with its timeout, and classify the outcome.

Nothing here touches Redis; the worker turns an `Outcome` into a broker call.
"""

from __future__ import annotations

import asyncio
import functools
import traceback
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chronoq.core import serialization
from chronoq.core.errors import JobTimeout, RateLimited, SerializationError, UnknownTask
from chronoq.core.job import LimitRef, decode_extra_options
from chronoq.core.retry import Backoff
from chronoq.core.task import TaskDef, TaskRegistry
from chronoq.redis.broker import ClaimedJob


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended. `retry_in` None with an error means dead-letter now;
    `deferred` (seconds) means the task raised RateLimited: run again later, no
    attempt spent."""

    job: ClaimedJob
    result_json: str = ""
    error: str | None = None
    traceback: str = ""
    retry_in: float | None = None
    deferred: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.deferred is None


@dataclass(frozen=True, slots=True)
class RunPlan:
    """A job ready to call: its function, arguments and effective options."""

    task: TaskDef
    args: list[Any]
    kwargs: dict[str, Any]
    timeout: float | None
    backoff: Backoff
    max_retries: int
    limits: tuple[LimitRef, ...] = ()


def plan(job: ClaimedJob, registry: TaskRegistry) -> RunPlan | Outcome:
    """Resolve a claimed job, or return a dead outcome explaining why it cannot run."""
    try:
        task = registry.get(job.task)
    except UnknownTask as exc:
        return Outcome(job, error=str(exc))
    try:
        args, kwargs = serialization.decode_call(job.payload)
        extra = decode_extra_options(job.options)
    except (ValueError, KeyError, TypeError) as exc:
        return Outcome(job, error=f"undecodable payload: {exc}")
    defaults = task.defaults
    return RunPlan(
        task=task,
        args=args,
        kwargs=kwargs,
        timeout=extra.timeout if extra.timeout is not None else defaults.timeout,
        backoff=extra.backoff or defaults.backoff,
        max_retries=job.max_retries if job.max_retries is not None else defaults.max_retries,
        limits=extra.limits,
    )


async def execute(job: ClaimedJob, run: RunPlan, threads: ThreadPoolExecutor) -> Outcome:
    """Call the task and classify what happened. Never raises (except cancellation)."""
    try:
        value = await _call(run, threads)
        result_json = "" if value is None else serialization.dumps(value, what="task result")
    except asyncio.CancelledError:
        raise
    except RateLimited as exc:
        return Outcome(job, deferred=exc.retry_after)
    except JobTimeout:
        error = f"JobTimeout: run exceeded its timeout of {run.timeout}s"
        return _failed(job, run, error, "")
    except SerializationError as exc:
        return _failed(job, run, f"SerializationError: {exc}", "")
    except Exception as exc:
        return _failed(job, run, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return Outcome(job, result_json=result_json)


async def _call(run: RunPlan, threads: ThreadPoolExecutor) -> Any:
    func = run.task.func
    coro: Awaitable[Any]
    if run.task.is_async:
        coro = func(*run.args, **run.kwargs)
    else:
        # A thread cannot be cancelled: on timeout the attempt fails, the thread runs on.
        loop = asyncio.get_running_loop()
        call = functools.partial(func, *run.args, **run.kwargs)
        coro = loop.run_in_executor(threads, call)
    if run.timeout is None:
        return await coro
    try:
        async with asyncio.timeout(run.timeout):
            return await coro
    except TimeoutError:
        raise JobTimeout(f"timeout {run.timeout}s") from None


def _failed(job: ClaimedJob, run: RunPlan, error: str, tb: str) -> Outcome:
    retries_used = job.attempts - 1
    if retries_used < run.max_retries:
        return Outcome(job, error=error, traceback=tb, retry_in=run.backoff.delay(job.attempts))
    return Outcome(job, error=error, traceback=tb, retry_in=None)
