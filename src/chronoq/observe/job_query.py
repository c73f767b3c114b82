"""What a job search asks and returns: the filter (`JobFilter`, shared by the
CLI's `--filter`, the API's `filter=` and the dashboard through
chronoq.observe.filters), a page of results, and the opaque cursor that resumes
a search where its last page ended (pure: no I/O; the search itself is
chronoq.observe.search)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import Job, JobStatus
from chronoq.schedule.spec import parse_duration

_FINISHED = tuple(s for s in JobStatus if s.is_finished)
_RELATIVE = re.compile(r"^[0-9.]+[a-z]+([0-9.]+[a-z]+)*$")


def parse_moment(text: str, what: str = "--since", now: float | None = None) -> datetime:
    """`2h`, `30m`, `1h30m` (that long before now) or an ISO 8601 time with its offset."""
    compact = text.strip().replace(" ", "").lower()
    if _RELATIVE.match(compact):
        try:
            ago = parse_duration(compact)
        except ConfigurationError:
            ago = None
        if ago is not None:
            base = time.time() if now is None else now
            return datetime.fromtimestamp(base, UTC) - ago
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"{what} {text!r} is neither a duration (30m, 2h, 1d) nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigurationError(f"{what} {text!r} has no UTC offset; add one, e.g. {text}+00:00")
    return moment


@dataclass(frozen=True, slots=True)
class JobFilter:
    """What to search. Every filter given must hold (they combine with AND)."""

    task: str | None = None
    status: JobStatus | None = None  # a finished status (succeeded, dead, ...) or None
    queue: str | None = None
    account: str | None = None
    since: datetime | None = None  # finished (or died) at or after
    until: datetime | None = None  # ... and before
    error_contains: str | None = None  # ASCII case ignored
    error_group: str | None = None  # a failure group's fingerprint: dead jobs only
    # Negations: none of these may hold (`-task:x` in the filter grammar).
    not_tasks: tuple[str, ...] = ()
    not_statuses: tuple[JobStatus, ...] = ()
    not_queues: tuple[str, ...] = ()
    not_accounts: tuple[str, ...] = ()
    not_error_contains: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status is not None and not self.status.is_finished:
            names = ", ".join(s.value for s in _FINISHED)
            raise ConfigurationError(
                f"job search covers finished jobs ({names}); "
                f"list {self.status.value} jobs with --status alone"
            )
        unfinished = [s.value for s in self.not_statuses if not s.is_finished]
        if unfinished:
            raise ConfigurationError(
                f"job search covers finished jobs; excluding {', '.join(unfinished)} means nothing"
            )
        for moment, what in ((self.since, "since"), (self.until, "until")):
            if moment is not None and moment.utcoffset() is None:
                raise ConfigurationError(f"{what} must be a time-zone-aware datetime")

    def digest(self) -> str:
        """What a cursor must match (the window travels in the cursor itself)."""
        parts = [self.task, self.status, self.queue, self.account, self.error_contains,
                 self.error_group, self.not_tasks, self.not_statuses, self.not_queues,
                 self.not_accounts, self.not_error_contains]  # fmt: skip
        return hashlib.sha1(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobFilter:
        """The inverse of `to_dict` (a stored filter, e.g. a bulk operation's)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(f"unknown filter field {unknown[0]!r}")
        values = dict(data)
        for k in ("since", "until"):
            if values.get(k) is not None:
                values[k] = parse_moment(str(values[k]), k)
        if values.get("status") is not None:
            values["status"] = JobStatus(values["status"])
        for k in ("not_tasks", "not_queues", "not_accounts", "not_error_contains"):
            values[k] = tuple(str(v) for v in values.get(k, ()))
        values["not_statuses"] = tuple(JobStatus(v) for v in values.get("not_statuses", ()))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None and v != ()}
        for k in ("since", "until"):
            if k in out:
                out[k] = out[k].isoformat()
        if "status" in out:
            out["status"] = out["status"].value
        if "not_statuses" in out:
            out["not_statuses"] = [s.value for s in self.not_statuses]
        for k in ("not_tasks", "not_queues", "not_accounts", "not_error_contains"):
            if k in out:
                out[k] = list(out[k])
        return out


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of results, newest first; `next_cursor` None: nothing more."""

    jobs: list[Job]
    next_cursor: str | None
    examined: int = 0
    filters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobs": [job.to_dict() for job in self.jobs],
            "next_cursor": self.next_cursor,
            "examined": self.examined,
            "filters": self.filters,
        }


@dataclass(frozen=True, slots=True)
class Cursor:
    score: float
    id: str
    low: float | None  # the window's bounds in ms, fixed by the first page
    high: float | None
    digest: str

    def encode(self) -> str:
        raw = json.dumps([1, self.score, self.id, self.low, self.high, self.digest])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, digest: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            version, score, job_id, low, high, found = json.loads(raw)
            if version != 1 or not isinstance(job_id, str):
                raise ValueError
            cursor = cls(float(score), job_id, opt_float(low), opt_float(high), str(found))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ConfigurationError(
                f"bad cursor {text[:40]!r}: not one a search returned"
            ) from None
        if cursor.digest != digest:
            raise ConfigurationError("this cursor belongs to a search with other filters")
        return cursor


def opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
