"""What the queue hands out and takes in, in domain words: a job placed now or
later, the reply to an enqueue, and the jobs a claim leases to a worker.

The Redis room (`chronoq.redis.broker`) turns these into script arguments and
replies into these; the worker and the client speak only these.
"""

from __future__ import annotations

from dataclasses import dataclass

from chronoq.core.job import JobStatus


@dataclass(frozen=True, slots=True)
class Enqueued:
    id: str
    status: JobStatus
    created: bool  # False: an existing job holds the unique key; id is that job's


@dataclass(slots=True, eq=False)  # not frozen: made per job, and frozen init costs ~1 µs
class ClaimedJob:
    id: str
    queue: str
    task: str
    payload: str
    attempts: int
    max_retries: int | None
    options: str | None
    token: str
    reservations: str | None = None  # JSON {limit: booked ms} from an earlier deferral
    # What the run's context tells the task (chronoq.current_job()); all server ms.
    enqueued_ms: int | None = None
    run_at_ms: int | None = None  # when this attempt was due (delayed, retried, deferred)
    started_ms: int | None = None
    schedule: str | None = None  # the schedule that made the job
    schedule_due_ms: int | None = None  # the due time of that schedule run
    account: str | None = None
    fence: int | None = None  # fencing token of the job's lock key, if it has one
    retry_base: int = 0  # attempts made before it was last requeued from the DLQ


@dataclass(frozen=True, slots=True)
class Claim:
    server_ms: int
    next_due_ms: int | None  # ms until the next scheduled job of this queue
    jobs: list[ClaimedJob]
    registered: int = 0  # hand-off places the worker's idle registration holds
    expired: tuple[ExpiredJob, ...] = ()  # jobs this claim found past their deadline
    server_clock_ms: float = 0.0  # server_ms with its fraction (0.0: unknown)


@dataclass(frozen=True, slots=True)
class ExpiredJob:
    """A job the claim ended as expired (its deadline passed before it could start)."""

    id: str
    task: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Placement:
    """When a new job becomes due: now, after a delay, or at an epoch instant."""

    delay_ms: int | None = None
    at_ms: int | None = None

    @property
    def wire(self) -> str:
        if self.delay_ms is not None:
            return f"+{self.delay_ms}"
        if self.at_ms is not None:
            return f"@{self.at_ms}"
        return ""


NOW = Placement()


@dataclass(frozen=True, slots=True)
class DeadSelection:
    """Which dead jobs an operator requeues: of one task, with an error containing
    some text (ASCII case ignored), dead since an instant or within a duration."""

    task: str = ""
    error_contains: str = ""
    since_ms: int | None = None  # epoch ms
    within_ms: int | None = None  # before the server's now

    @property
    def wire(self) -> list[str]:
        since = ""
        if self.since_ms is not None:
            since = f"@{self.since_ms}"
        elif self.within_ms is not None:
            since = f"-{self.within_ms}"
        return [self.task, self.error_contains, since]


ANY_DEAD = DeadSelection()
