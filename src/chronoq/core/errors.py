"""Exceptions users can catch. Each message names the offending value."""


class ChronoqError(Exception):
    """Base class for every error chronoq raises on purpose."""


class ConfigurationError(ChronoqError, ValueError):
    """Settings or options that cannot work together."""


class SerializationError(ChronoqError, TypeError):
    """A value cannot be stored as JSON; raised at enqueue time, never at run time."""


class JobNotFound(ChronoqError, LookupError):
    """No job with that id exists (never did, or its record expired)."""


class InvalidJobState(ChronoqError):
    """The job is not in a state that allows the requested operation."""


class UnknownTask(ChronoqError, LookupError):
    """A job names a task the worker's app does not define."""


class ServerUnsafe(ChronoqError):
    """The Redis server is configured in a way that can lose jobs (strict mode)."""


class JobTimeout(ChronoqError, TimeoutError):
    """A run exceeded its timeout and was cancelled."""


class ScheduleNotFound(ChronoqError, LookupError):
    """No schedule with that name exists."""


class ScheduleExists(ChronoqError):
    """A schedule with that name exists already (update it, or add with replace)."""


class LockTimeout(ChronoqError, TimeoutError):
    """A lock was not acquired within its timeout (or at once, when not blocking)."""

    def __init__(self, message: str, *, name: str = "", waited: float = 0.0) -> None:
        super().__init__(message)
        self.name = name
        self.waited = waited


class LockLost(ChronoqError):
    """A holder's lease ended before it released the lock: another holder may have
    taken it. Work done under its fencing token may have been refused downstream."""

    def __init__(self, message: str, *, name: str = "", fence: int | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.fence = fence


class RateLimited(ChronoqError):
    """Raise from a task when a platform says "slow down" (an HTTP 429 with
    Retry-After): the job is deferred by `retry_after` seconds, no attempt spent, and
    the task's rate-limit keys back off as long (other jobs of those keys wait too)."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        if retry_after < 0:
            raise ValueError(f"retry_after must be >= 0 seconds, got {retry_after}")
        super().__init__(message or f"rate limited: retry after {retry_after:g} s")
        self.retry_after = retry_after


class LimitNotFound(ChronoqError, LookupError):
    """No rate limit or quota with that name exists."""


class NotReplicated(ChronoqError):
    """A write reached the primary, but fewer replicas than `replica_acks` confirmed
    it in time: a failover now could lose it. Safe to retry (enqueue skips job ids
    that exist)."""

    def __init__(self, message: str, *, acked: int = 0, wanted: int = 0) -> None:
        super().__init__(message)
        self.acked = acked
        self.wanted = wanted


class NotInJob(ChronoqError, RuntimeError):
    """`chronoq.current_job()` (or `report_progress`) was called outside a running task."""


class JobCancelled(ChronoqError):
    """Raised by `JobContext.raise_if_cancelled()` once the worker was asked to cancel
    the run: let it propagate, the worker ends the run."""
