"""Exceptions users can catch. Each message names the offending value."""

from typing import Any

MAX_RETRY_DELAY = 366 * 86400.0
"""Longest wait before a retry (seconds): a year, so that any delay stays a valid
time in Redis and in Python's calendar."""


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


class CampaignNotFound(ChronoqError, LookupError):
    """No campaign has this name."""


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


class Permanent(ChronoqError):
    """Raise from a task for an error no retry can fix (a 400 from a platform, a
    deleted post): the job goes to the dead-letter queue at once, with this reason."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason or "permanent failure")
        self.reason = reason


class RetryAfter(ChronoqError):
    """Raise from a task to fail this attempt and run the next one after exactly
    `seconds` (no backoff, no jitter). It counts as an attempt: out of retries, the
    job is dead. (`RateLimited` instead defers the job without spending one.)"""

    def __init__(self, seconds: float, message: str = "") -> None:
        if not 0 <= seconds <= MAX_RETRY_DELAY:
            raise ValueError(
                f"RetryAfter seconds must be within 0..{MAX_RETRY_DELAY:g}, got {seconds}"
            )
        super().__init__(message or f"retry after {seconds:g} s")
        self.seconds = seconds


class SoftTimeLimit(ChronoqError):
    """Raised inside a task that runs past its `soft_timeout`: catch it to clean up
    or save partial work before the hard `timeout` stops the run."""

    default_message = "run exceeded its soft time limit"

    def __init__(self, message: str = default_message) -> None:
        super().__init__(message)


class PayloadTooLarge(ChronoqError, ValueError):
    """Job arguments (at enqueue) or a task's result (at run time) encode to more
    bytes than `max_payload_bytes` (CHRONOQ_MAX_PAYLOAD_BYTES) allows."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(
            f"{what} take {size:,} bytes of JSON, over the limit of {limit:,} bytes "
            "(CHRONOQ_MAX_PAYLOAD_BYTES)"
        )
        self.size = size
        self.limit = limit


class LimitNotFound(ChronoqError, LookupError):
    """No rate limit or quota with that name exists."""


class OperationNotFound(ChronoqError, LookupError):
    """No bulk operation with that id exists (never did, or its record expired)."""


class OperationConflict(ConfigurationError):
    """An idempotency key reused with another request than the one it first came with."""

    def __init__(self, key: str, operation_id: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was used for another request (operation {operation_id})"
        )
        self.operation_id = operation_id


class LedgerConflict(ChronoqError):
    """A ledger entry refused a change: it is in a state the caller did not allow,
    or another owner holds it (a second run of the same effect). `entry` is what
    the ledger holds now (None: no entry)."""

    def __init__(self, key: str, message: str, entry: Any = None) -> None:
        super().__init__(f"ledger entry {key!r}: {message}")
        self.key = key
        self.entry = entry


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
