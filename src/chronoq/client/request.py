"""The request model: what a caller asks of the client. `JobRequest` (one job to
enqueue) and how its options resolve against the task's defaults and templates
(gates, account, limits, placement), and the checked filters of a dead-letter
requeue (`dead_selection`). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from chronoq.core.claims import NOW, DeadSelection, Placement
from chronoq.core.errors import ConfigurationError
from chronoq.core.job import Gate, LimitRef, require_aware, to_millis
from chronoq.core.retry import Backoff
from chronoq.core.task import NO_KEYS, JobKeys, TaskDef, TaskLike, job_keys

TaskRef = str | TaskDef | Callable[..., Any]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class JobRequest:
    """One job to enqueue. Options left as None take the task's defaults."""

    task: TaskRef
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int | None = None
    delay: float | timedelta | None = None
    at: datetime | None = None
    unique_key: str | None = None
    max_retries: int | None = None
    timeout: float | None = None
    deadline: datetime | None = None
    backoff: Backoff | None = None
    idempotency_key: str | None = None  # dedupe for idempotency_ttl, whatever the outcome
    idempotency_ttl: float | None = None  # seconds; default 1 day, at most the retention
    gates: Sequence[Gate] | None = None  # default: from the task's lock/concurrency templates
    account: str | None = None  # default: from the task's account template
    limits: Sequence[LimitRef] | None = None  # default: from the task's rate_limit/quota
    retry_delays: Sequence[float] | None = None  # seconds before each retry (last repeats)
    force: bool = False  # enqueue a name neither the app nor any worker has registered
    schedule: str | None = None  # recorded on the job: the schedule that made it
    schedule_due: datetime | None = None  # recorded on the job: that run's due time
    workflow: str | None = None  # recorded on the job: "<workflow id>/<node>" (chronoq.workflows)


def dead_selection(
    task: str | None, error_contains: str | None, since: datetime | timedelta | float | None
) -> DeadSelection:
    """The filters of a dead-letter requeue, checked."""
    since_ms = within_ms = None
    if isinstance(since, datetime):
        require_aware(since, "since")
        since_ms = to_millis(since)
    elif since is not None:
        seconds = since.total_seconds() if isinstance(since, timedelta) else float(since)
        if not 0 <= seconds < 1e12:
            raise ConfigurationError(f"since must be a duration >= 0, got {since!r}")
        within_ms = int(seconds * 1000)
    return DeadSelection(task or "", error_contains or "", since_ms, within_ms)


def keys_of(request: JobRequest, task: TaskLike | None) -> JobKeys:
    """Gates and account: given on the request, else built from the task's templates."""
    derived = job_keys(task, request.args, request.kwargs) if task else NO_KEYS
    if request.gates is None and request.account is None and request.limits is None:
        return derived
    gates = tuple(request.gates) if request.gates is not None else derived.gates
    account = request.account if request.account is not None else derived.account
    limits = tuple(request.limits) if request.limits is not None else derived.limits
    return JobKeys(gates, account, limits)


def first(value: T | None, default: T | None) -> T | None:
    return value if value is not None else default


def has_job_options(r: JobRequest) -> bool:
    return not (
        r.priority is None
        and r.unique_key is None
        and r.max_retries is None
        and r.timeout is None
        and r.deadline is None
        and r.backoff is None
        and r.idempotency_key is None
        and r.retry_delays is None
        and r.schedule is None
        and r.workflow is None
    )


def placement_of(delay: float | timedelta | None, at: datetime | None) -> Placement:
    if delay is not None and at is not None:
        raise ConfigurationError("give either delay or at, not both")
    if isinstance(delay, timedelta):
        delay = delay.total_seconds()
    if delay is not None:
        if delay < 0:
            raise ConfigurationError(f"delay must be >= 0 seconds, got {delay}")
        return Placement(delay_ms=round(delay * 1000))  # the nearest ms
    if at is not None:
        require_aware(at, "at")
        return Placement(at_ms=to_millis(at))
    return NOW
