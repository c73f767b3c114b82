"""A schedule's definition and the pure decisions about its runs.

No I/O: given "the run due at D" and "now", decide which runs to enqueue
(misfire policy) and when the schedule is due next (start, end, max runs).
"""

from __future__ import annotations

import enum
import hashlib
import math
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chronoq.core import serialization
from chronoq.core.errors import ConfigurationError
from chronoq.core.job import require_aware
from chronoq.core.names import validate_queue_name
from chronoq.core.zones import zone
from chronoq.schedule.spec import Cron, Spec, parse_spec

_MOMENTS = ("start", "end", "anchor", "paused_at")
_NAME = re.compile(r"^[A-Za-z0-9_.:@/-]{1,128}$")
MAX_CATCH_UP = 1000  # most missed runs one firing enqueues (policy "all")
# Seconds a run may be late and still count as on time: the one default of
# ScheduleDef, App.schedule and `chronoq schedules add --grace` (README: 60 s).
DEFAULT_GRACE = 60.0


class Misfire(enum.StrEnum):
    """What to do with missed runs: those due more than `grace` seconds ago (after
    downtime). Runs due within `grace` are merely late and always fire."""

    SKIP = "skip"  # drop missed runs
    ONCE = "once"  # fire one run in place of all missed ones (unless a run fires anyway)
    ALL = "all"  # fire every missed run (at most MAX_CATCH_UP), oldest first


class Overlap(enum.StrEnum):
    """What to do when a run is due while the schedule's previous job has not finished."""

    ALLOW = "allow"
    SKIP = "skip"  # drop this run
    QUEUE = "queue"  # hold this run until the previous job finishes


@dataclass(frozen=True, slots=True)
class ScheduleDef:
    """What runs and when. Times are stored in UTC; `tz` is how the spec reads."""

    name: str
    task: str
    spec: str
    tz: str = "UTC"
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None  # None: the task's default queue
    priority: int | None = None
    max_retries: int | None = None
    timeout: float | None = None
    start: datetime | None = None
    end: datetime | None = None
    max_runs: int | None = None
    jitter: float = 0.0  # seconds; each run is delayed by a stable pseudo-random share
    misfire: Misfire = Misfire.ONCE
    grace: float = DEFAULT_GRACE  # seconds a run may be late and still count as on time
    overlap: Overlap = Overlap.ALLOW
    paused: bool = False
    anchor: datetime | None = None  # `@every` phase; set when first stored
    deadline: float | None = None  # seconds after its run time a run may start, else expired
    pause_reason: str | None = None  # why an operator paused it (set with paused)
    paused_at: datetime | None = None  # when it was paused

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigurationError(
                f"schedule name {self.name!r} must be 1-128 characters of A-Z a-z 0-9 _ . : @ / -"
            )
        if not self.task:
            raise ConfigurationError(f"schedule {self.name!r} names no task")
        self.parsed  # noqa: B018 (validates the spec)
        self.zone  # noqa: B018 (validates the zone)
        moments = (("start", self.start), ("end", self.end), ("anchor", self.anchor),
                   ("paused_at", self.paused_at))  # fmt: skip
        for label, moment in moments:
            if moment is not None:
                require_aware(moment, f"schedule {label}")
        if self.start and self.end and self.end <= self.start:
            raise ConfigurationError(
                f"schedule {self.name!r} ends ({self.end.isoformat()}) before it starts "
                f"({self.start.isoformat()})"
            )
        if self.queue is not None:
            validate_queue_name(self.queue)
        _check_numbers(self)
        serialization.encode_call(self.args, self.kwargs)  # JSON now, not at fire time

    @property
    def parsed(self) -> Spec:
        return parse_spec(self.spec)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.tz)

    # -- when --------------------------------------------------------------

    def next_run_after(self, moment: datetime, runs_so_far: int = 0) -> datetime | None:
        """The first run strictly after `moment` (UTC), or None when the schedule is over."""
        if self.max_runs is not None and runs_so_far >= self.max_runs:
            return None
        floor = moment
        if self.start is not None and self.start - timedelta(microseconds=1) > floor:
            floor = self.start - timedelta(microseconds=1)
        spec = self.parsed
        if isinstance(spec, Cron):
            run = spec.next_after(floor, self.zone)
        else:
            run = spec.next_after(floor, self.anchor or self.start or floor)
        if self.end is not None and run > self.end:
            return None
        return run

    def deadline_for(self, run: datetime) -> datetime | None:
        """The latest start of the run due at `run` (None: no deadline)."""
        if self.deadline is None:
            return None
        return run + timedelta(seconds=self.jitter_for(run) + self.deadline)

    def runs_to_fire(self, due: datetime, now: datetime) -> list[datetime]:
        """Which run times to enqueue now, given the earliest unfired one is `due`."""
        return self.fire_plan(due, now)[0]

    def fire_plan(self, due: datetime, now: datetime) -> tuple[list[datetime], list[datetime]]:
        """(the runs to enqueue now, the due runs the misfire policy drops), given the
        earliest unfired run is `due`: what the scheduler fires, and records as missed."""
        pending = [due]
        while len(pending) < MAX_CATCH_UP:
            following = self.next_run_after(pending[-1])
            if following is None or following > now:
                break
            pending.append(following)
        horizon = now - timedelta(seconds=self.grace)
        on_time = [run for run in pending if run >= horizon]
        missed = pending[: len(pending) - len(on_time)]
        if not missed:
            return on_time, []
        match self.misfire:
            case Misfire.SKIP:
                return on_time, missed
            case Misfire.ONCE:
                return (on_time, missed) if on_time else ([missed[-1]], missed[:-1])
            case Misfire.ALL:
                return pending, []

    def jitter_for(self, run: datetime) -> float:
        """A stable delay in [0, jitter): every scheduler computes the same one."""
        if self.jitter <= 0:
            return 0.0
        digest = hashlib.blake2b(f"{self.name}@{run.isoformat()}".encode(), digest_size=8)
        return self.jitter * int.from_bytes(digest.digest()) / 2**64

    # -- storage -----------------------------------------------------------

    def to_json(self) -> str:
        raw = asdict(self)
        for key in _MOMENTS:
            raw[key] = raw[key].isoformat() if raw[key] else None
        for key in ("deadline", "pause_reason", "paused_at"):
            if raw[key] is None:  # absent: definitions stored before it keep their fingerprint
                del raw[key]
        return serialization.dumps(raw)

    @classmethod
    def from_json(cls, text: str) -> ScheduleDef:
        raw = serialization.loads(text)
        for key in _MOMENTS:
            raw[key] = datetime.fromisoformat(raw[key]) if raw.get(key) else None
        raw["misfire"] = Misfire(raw.get("misfire", Misfire.ONCE))
        raw["overlap"] = Overlap(raw.get("overlap", Overlap.ALLOW))
        return cls(**raw)

    def with_changes(self, **changes: Any) -> ScheduleDef:
        return replace(self, **changes)

    def fingerprint(self) -> str:
        """Identifies a definition's content (code-declared schedules sync on it)."""
        content = self.with_changes(
            paused=False, anchor=None, pause_reason=None, paused_at=None
        ).to_json()
        return hashlib.blake2b(content.encode(), digest_size=12).hexdigest()


def _check_numbers(d: ScheduleDef) -> None:
    if d.max_runs is not None and d.max_runs < 1:
        raise ConfigurationError(f"max_runs must be at least 1, got {d.max_runs}")
    if d.jitter < 0:
        raise ConfigurationError(f"jitter must be >= 0 seconds, got {d.jitter}")
    if d.grace < 0:
        raise ConfigurationError(f"grace must be >= 0 seconds, got {d.grace}")
    if d.max_retries is not None and d.max_retries < 0:
        raise ConfigurationError(f"max_retries must be >= 0, got {d.max_retries}")
    if d.timeout is not None and d.timeout <= 0:
        raise ConfigurationError(f"timeout must be > 0 seconds, got {d.timeout}")
    if d.deadline is not None and not 0 < d.deadline < math.inf:
        raise ConfigurationError(
            f"deadline must be a positive number of seconds after the run time, got {d.deadline}"
        )


def utc_now() -> datetime:
    return datetime.now(UTC)
