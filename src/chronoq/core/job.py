"""The job model: what a job is, its states, and its options.

A job lives in Redis as one small hash. `JobSpec` is what an enqueue writes,
`Job` is what a read returns. Field names on the wire are listed in `Field` so the
Lua scripts, the broker and this module agree on one vocabulary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from chronoq.core import serialization
from chronoq.core.errors import ConfigurationError
from chronoq.core.retry import Backoff, check_delays

PRIORITY_RANGE = range(-1000, 1001)


class JobStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waiting for its run-at time (first run)
    QUEUED = "queued"  # ready, waiting for a worker
    RUNNING = "running"  # leased by a worker
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"  # a failed attempt, waiting for its backoff to elapse
    DEAD = "dead"  # out of retries (or undeliverable): in the dead-letter queue
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # its deadline passed before it could start
    BLOCKED = "blocked"  # parked until a lock key or concurrency slot it needs frees up
    SKIPPED = "skipped"  # its lock key was held and its policy is to skip

    @property
    def is_waiting(self) -> bool:
        return self in _WAITING

    @property
    def is_finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED, JobStatus.EXPIRED, JobStatus.SKIPPED}
)
_WAITING = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.BLOCKED})


class Field:
    """Hash field names of a job record (kept short: they are stored per job)."""

    TASK = "task"
    ARGS = "args"
    STATUS = "status"
    PRIORITY = "prio"
    ATTEMPTS = "att"
    MAX_RETRIES = "maxr"
    OPTIONS = "opts"
    DEADLINE = "dl"
    UNIQUE = "uniq"
    IDEMPOTENCY = "idem"
    ENQUEUED = "enq"
    RUN_AT = "run"
    STARTED = "st"
    FINISHED = "fin"
    ERROR = "err"
    TRACEBACK = "tb"
    PROGRESS = "prog"  # fraction done (0..1) the running task reported last
    PROGRESS_MESSAGE = "pmsg"  # the message that came with it
    LEASE = "lease"
    WORKER = "wid"
    GATES = "gate"
    ACCOUNT = "acct"
    RESERVATIONS = "lres"  # JSON {limit: booked ms}: starts a limit granted for later
    PARKED_SEQ = "pseq"  # FIFO number kept while parked, to return to its place in line
    SCHEDULE = "sched"  # name of the schedule that made this job, if any
    SCHEDULE_DUE = "sdue"  # ms: the due time that schedule run was meant for
    RETRY_BASE = "rbase"  # attempts made before the job was last requeued from the DLQ
    CANCEL_REQUESTED = "cxl"  # ms: when a cancel of the running job was asked for
    ERROR_GROUP = "fp"  # fingerprint of the last failure's group (chronoq.core.failures)
    ERROR_CLASS = "ecls"  # that failure's class: network, timeout, ...
    RESOLVED = "rsv"  # ms: when an operator marked this dead job handled
    RESOLUTION = "rnote"  # the note they left
    HISTORY = "hist"  # JSON list of the attempts (and marks) before the current one
    MEMORY = "mem"  # bytes: the worker process's RSS when the latest attempt ended


class GatePolicy(enum.StrEnum):
    """What a job does when a gate it needs is full."""

    WAIT = "wait"  # park; run when a holder finishes (no attempt spent)
    SKIP = "skip"  # end as skipped
    FAIL = "fail"  # go to the dead-letter queue, the reason stated


GATE_KEY_MAX = 200


@dataclass(frozen=True, slots=True)
class Gate:
    """At most `limit` running jobs may hold `key` (a lock key is a gate of limit 1).

    Gates are scoped to the queue: jobs sharing a key must share a queue, which is
    what keeps the check atomic with the claim (and Cluster-safe: one hash slot).
    """

    key: str
    limit: int = 1
    policy: GatePolicy = GatePolicy.WAIT

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > GATE_KEY_MAX:
            raise ConfigurationError(
                f"gate key must be 1-{GATE_KEY_MAX} characters, got {self.key!r}"
            )
        if self.limit < 1:
            raise ConfigurationError(
                f"concurrency limit of {self.key!r} must be at least 1, got {self.limit}"
            )
        object.__setattr__(self, "policy", GatePolicy(self.policy))

    def to_wire(self) -> list[Any]:
        return [self.key, self.limit, self.policy.value]


@dataclass(frozen=True, slots=True)
class LimitRef:
    """A job's place under a named rate limit or quota: which limit, which key's budget."""

    name: str
    key: str = ""

    def __post_init__(self) -> None:
        if not self.name or len(self.key) > GATE_KEY_MAX:
            raise ConfigurationError(
                f"a limit reference needs a name and a key of at most {GATE_KEY_MAX} characters"
            )


@dataclass(frozen=True, slots=True)
class ExtraOptions:
    """Options stored in the job's JSON 'opts' field (rarely set, read by the worker)."""

    backoff: Backoff | None = None
    timeout: float | None = None
    limits: tuple[LimitRef, ...] = ()
    retry_delays: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class JobOptions:
    """Per-job options. `None` means "use the task's default"."""

    max_retries: int | None = None
    backoff: Backoff | None = None
    timeout: float | None = None
    deadline: datetime | None = None
    unique_key: str | None = None
    priority: int = 0
    idempotency_key: str | None = None
    idempotency_ttl: float = 86400.0
    gates: tuple[Gate, ...] = ()
    account: str | None = None
    limits: tuple[LimitRef, ...] = ()  # rate limits and quotas, decided in this order
    retry_delays: tuple[float, ...] | None = None  # seconds before each retry; last repeats
    schedule: str | None = None  # the schedule whose run (or trigger) made the job
    schedule_due_ms: int | None = None  # the due time of that run
    workflow: str | None = None  # "<workflow id>/<node>": the workflow step this job is

    def __post_init__(self) -> None:
        if self.retry_delays is not None:
            object.__setattr__(self, "retry_delays", check_delays(self.retry_delays))
        if self.max_retries is not None and self.max_retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigurationError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.priority not in PRIORITY_RANGE:
            raise ConfigurationError(f"priority must be within -1000..1000, got {self.priority}")
        if self.deadline is not None:
            require_aware(self.deadline, "deadline")
        if self.unique_key is not None and not self.unique_key:
            raise ConfigurationError("unique_key must not be empty")
        if self.idempotency_key is not None and not self.idempotency_key:
            raise ConfigurationError("idempotency_key must not be empty")
        if self.account is not None and not 0 < len(self.account) <= GATE_KEY_MAX:
            raise ConfigurationError(
                f"account must be 1-{GATE_KEY_MAX} characters, got {self.account!r}"
            )
        if len({gate.key for gate in self.gates}) != len(self.gates):
            raise ConfigurationError("a job cannot name the same gate key twice")
        if self.idempotency_ttl < 1:
            raise ConfigurationError(
                f"idempotency_ttl must be >= 1 second, got {self.idempotency_ttl}"
            )


def require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigurationError(
            f"{what} must be a time-zone-aware datetime, got naive {moment.isoformat()}; "
            "attach a zone, e.g. datetime(..., tzinfo=ZoneInfo('Europe/Paris'))"
        )


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_millis(millis: int | None) -> datetime | None:
    if millis is None:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything an enqueue stores about a new job."""

    id: str
    task: str
    queue: str
    payload: str  # JSON from serialization.encode_call
    options: JobOptions = field(default_factory=JobOptions)

    def extra_fields(self) -> list[str]:
        """Hash fields beyond task, args and priority, as a flat name/value list.

        Defaults are omitted: a waiting job's size is what bounds queue memory.
        """
        return option_fields(self.options)


@lru_cache(maxsize=1024)
def option_fields(opts: JobOptions) -> list[str]:
    """Cached: a bulk enqueue repeats one options object thousands of times.
    (Callers must not mutate the returned list.)"""
    out: list[str] = []
    if opts.max_retries is not None:
        out += [Field.MAX_RETRIES, str(opts.max_retries)]
    if opts.deadline is not None:
        out += [Field.DEADLINE, str(to_millis(opts.deadline))]
    if opts.unique_key is not None:
        out += [Field.UNIQUE, opts.unique_key]
    if opts.idempotency_key is not None:
        out += [Field.IDEMPOTENCY, opts.idempotency_key]
    if opts.gates:
        out += [Field.GATES, serialization.dumps([gate.to_wire() for gate in opts.gates])]
    if opts.account is not None:
        out += [Field.ACCOUNT, opts.account]
    if opts.schedule is not None:
        out += [Field.SCHEDULE, opts.schedule]
    if opts.schedule_due_ms is not None:
        out += [Field.SCHEDULE_DUE, str(opts.schedule_due_ms)]
    extra = _encode_extra_options(opts)
    if extra:
        out += [Field.OPTIONS, extra]
    return out


def _encode_extra_options(opts: JobOptions) -> str | None:
    extra: dict[str, Any] = {}
    if opts.backoff is not None:
        extra["backoff"] = opts.backoff.to_wire()
    if opts.timeout is not None:
        extra["timeout"] = opts.timeout
    if opts.limits:
        extra["limits"] = [[ref.name, ref.key] for ref in opts.limits]
    if opts.retry_delays is not None:
        extra["delays"] = list(opts.retry_delays)
    if opts.workflow is not None:
        extra[WORKFLOW_OPTION] = opts.workflow
    return serialization.dumps(extra) if extra else None


WORKFLOW_OPTION = "wf"
_WORKFLOW_MARK = f'"{WORKFLOW_OPTION}":'


def workflow_of(options: str | None) -> str | None:
    """The "<workflow id>/<node>" a job's options JSON names, or None. A plain job
    pays one substring test (most have no options at all)."""
    if not options or _WORKFLOW_MARK not in options:
        return None
    try:
        found = serialization.loads(options).get(WORKFLOW_OPTION)
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


NO_EXTRA = ExtraOptions()


def decode_extra_options(text: str | None) -> ExtraOptions:
    if not text:
        return NO_EXTRA
    extra = serialization.loads(text)
    backoff = Backoff.from_wire(extra["backoff"]) if "backoff" in extra else None
    limits = tuple(LimitRef(name, key) for name, key in extra.get("limits", ()))
    delays = check_delays(extra["delays"]) if "delays" in extra else None
    return ExtraOptions(backoff, extra.get("timeout"), limits, delays)


@dataclass(frozen=True, slots=True)
class Job:
    """A snapshot of a job record as read from Redis."""

    id: str
    queue: str
    task: str
    status: JobStatus
    args: list[Any]
    kwargs: dict[str, Any]
    priority: int = 0
    attempts: int = 0
    max_retries: int | None = None
    enqueued_at: datetime | None = None
    run_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline: datetime | None = None
    unique_key: str | None = None
    error: str | None = None
    traceback: str | None = None
    worker_id: str | None = None
    result: Any = None
    raw_args: str | None = None  # set when the stored payload could not be decoded
    account: str | None = None
    gates: tuple[Gate, ...] = ()
    progress: float | None = None  # fraction done the running task reported last
    progress_message: str | None = None
    schedule: str | None = None  # the schedule that made this job, if any
    schedule_due: datetime | None = None  # the due time of that schedule's run
    error_group: str | None = None  # fingerprint of the last failure's group
    error_class: str | None = None  # that failure's class (network, timeout, ...)
    resolved_at: datetime | None = None  # a dead job an operator marked handled
    resolution: str | None = None  # their note
    workflow: str | None = None  # "<workflow id>/<node>" when the job is a workflow step

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @classmethod
    def from_fields(
        cls, job_id: str, queue: str, fields: dict[str, str], result: str | None = None
    ) -> Job:
        def millis(name: str) -> datetime | None:
            try:
                return from_millis(_whole(fields.get(name)))
            except (OverflowError, OSError, ValueError):  # a time beyond the calendar
                return None

        raw = fields.get(Field.ARGS, "[[]]")
        try:
            args, kwargs = serialization.decode_call(raw)
            raw_args = None
        except ValueError:
            args, kwargs, raw_args = [], {}, raw
        return cls(
            id=job_id,
            queue=queue,
            task=fields.get(Field.TASK, ""),
            status=JobStatus(fields.get(Field.STATUS, JobStatus.QUEUED)),
            args=args,
            kwargs=kwargs,
            priority=_whole(fields.get(Field.PRIORITY)) or 0,
            attempts=_whole(fields.get(Field.ATTEMPTS)) or 0,
            max_retries=_whole(fields.get(Field.MAX_RETRIES)),
            enqueued_at=millis(Field.ENQUEUED),
            run_at=millis(Field.RUN_AT),
            started_at=millis(Field.STARTED),
            finished_at=millis(Field.FINISHED),
            deadline=millis(Field.DEADLINE),
            unique_key=fields.get(Field.UNIQUE),
            error=fields.get(Field.ERROR),
            traceback=fields.get(Field.TRACEBACK),
            worker_id=fields.get(Field.WORKER),
            result=_decode_result(result),
            raw_args=raw_args,
            account=fields.get(Field.ACCOUNT),
            gates=_decode_gates(fields.get(Field.GATES)),
            progress=_fraction(fields.get(Field.PROGRESS)),
            progress_message=fields.get(Field.PROGRESS_MESSAGE) or None,
            schedule=fields.get(Field.SCHEDULE),
            schedule_due=millis(Field.SCHEDULE_DUE),
            error_group=fields.get(Field.ERROR_GROUP) or None,
            error_class=fields.get(Field.ERROR_CLASS) or None,
            resolved_at=millis(Field.RESOLVED),
            resolution=fields.get(Field.RESOLUTION) or None,
            workflow=workflow_of(fields.get(Field.OPTIONS)),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, for the CLI and (later) the HTTP API."""

        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "id": self.id,
            "queue": self.queue,
            "task": self.task,
            "status": self.status.value,
            "args": self.args,
            "kwargs": self.kwargs,
            "priority": self.priority,
            "attempts": self.attempts,
            "max_retries": self.max_retries,
            "enqueued_at": iso(self.enqueued_at),
            "run_at": iso(self.run_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration": self.duration,
            "deadline": iso(self.deadline),
            "unique_key": self.unique_key,
            "error": self.error,
            "traceback": self.traceback,
            "worker_id": self.worker_id,
            "result": self.result,
            "account": self.account,
            "gates": [
                {"key": g.key, "limit": g.limit, "on_full": g.policy.value} for g in self.gates
            ],
            "progress": self.progress,
            "progress_message": self.progress_message,
            "schedule": self.schedule,
            "schedule_due": iso(self.schedule_due),
            "error_group": self.error_group,
            "error_class": self.error_class,
            "resolved_at": iso(self.resolved_at),
            "resolution": self.resolution,
            "workflow": self.workflow,
        }


def _decode_result(text: str | None) -> Any:
    """Raises ValueError (naming the result) when it is not JSON or nests too deep."""
    if text is None:
        return None
    return serialization.loads(text, what="result", max_depth=serialization.MAX_DEPTH)


def _whole(value: str | None) -> int | None:
    """A bad numeric field (a poison record: the scripts dead-letter it, naming the
    field in its error) reads as absent, so that the record can still be shown."""
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _fraction(value: str | None) -> float | None:
    """A progress fraction as stored; anything else reads as absent."""
    try:
        fraction = float(value) if value else None
    except ValueError:
        return None
    return fraction if fraction is not None and 0.0 <= fraction <= 1.0 else None


def _decode_gates(text: str | None) -> tuple[Gate, ...]:
    """Likewise, a bad gate list reads as none."""
    if not text:
        return ()
    try:
        return tuple(
            Gate(key, int(limit), GatePolicy(policy))
            for key, limit, policy in serialization.loads(text)
        )
    except (ValueError, TypeError):
        return ()
