"""The job read model: one job with the timeline of its attempts, as people and
programs read it (`chronoq job ID`, next the HTTP API and the dashboard).

The scripts keep history cheap (see `history_append` in `_lib.lua`): the common
job (one attempt, and done) stores no entry beyond its record, whose fields (st,
fin, wid, err, tb, mem, status) are its one attempt. An entry is stored only when an
attempt ends and the job goes on: a retry, a lost worker, a hand-back at shutdown,
a deferral by a limit, and a requeue from the dead-letter queue (its dead attempt,
then a mark). This module puts the two together, in order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chronoq.core.job import Field, Job, JobStatus, from_millis
from chronoq.redis.inspector import Inspector

# Outcomes of attempts whose run counts as one (the others hand the job back).
COUNTED = frozenset({"succeeded", "retrying", "dead", "worker lost", "cancelled", "running"})
WORKER_LOST = "worker lost"
_ERROR_CLASS = re.compile(r"([A-Z][\w.]*): ")
_FINAL_EVENTS = frozenset({JobStatus.EXPIRED, JobStatus.SKIPPED, JobStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class Attempt:
    """One entry of a job's timeline: an attempt (`number` set) and how it ended, or a
    mark without a run (`number` None: requeued, expired, skipped, cancelled while
    waiting). `outcome`: succeeded, retrying, dead, worker lost, shutdown, deferred,
    cancelled, running (the attempt under way), requeued, expired, skipped."""

    outcome: str
    number: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str | None = None
    error: str | None = None
    traceback: str | None = None
    peak_memory: int | None = None  # bytes: the worker process's RSS as it ended

    @property
    def counted(self) -> bool:
        """Whether it counts against the job's retries (a hand-back or deferral not)."""
        return self.number is not None and self.outcome in COUNTED

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def error_class(self) -> str | None:
        """The exception's class, from the error text ('ValueError: ...'); WorkerLost
        for a lost worker; None for errors that name none."""
        if self.error is None:
            return None
        if self.error.startswith(WORKER_LOST):
            return "WorkerLost"
        match = _ERROR_CLASS.match(self.error)
        return match.group(1) if match else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "outcome": self.outcome,
            "counted": self.counted,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration": self.duration,
            "worker": self.worker,
            "error_class": self.error_class,
            "error": self.error,
            "traceback": self.traceback,
            "peak_memory": self.peak_memory,
        }


@dataclass(frozen=True, slots=True)
class JobHistory:
    """A job and its timeline, oldest entry first."""

    job: Job
    timeline: tuple[Attempt, ...]

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """The timeline's attempts (marks left out)."""
        return tuple(entry for entry in self.timeline if entry.number is not None)

    def to_dict(self) -> dict[str, Any]:
        """The job's JSON form (`Job.to_dict`) with its timeline."""
        return {**self.job.to_dict(), "timeline": [entry.to_dict() for entry in self.timeline]}

    @classmethod
    def from_record(
        cls, job_id: str, queue: str, fields: dict[str, str], result: str | None = None
    ) -> JobHistory:
        job = Job.from_fields(job_id, queue, fields, result)
        stored = [_stored_entry(raw) for raw in _stored_history(fields.get(Field.HISTORY))]
        return cls(job, tuple(stored + _current(job, fields, stored)))


async def job_history(inspector: Inspector, job_id: str, queue: str | None = None) -> JobHistory:
    """The job with its timeline: finds its queue from the id's tag (no probing every
    queue), then one round trip. JobNotFound when there is no such job."""
    name, fields, result = await inspector.job_record(job_id, queue)
    return JobHistory.from_record(job_id, name, fields, result)


def _stored_history(text: str | None) -> list[dict[str, Any]]:
    """The stored entries; a history that is not a list of objects reads as none."""
    if not text:
        return []
    try:
        entries = json.loads(text)
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries if isinstance(entry, dict)]


def _stored_entry(raw: dict[str, Any]) -> Attempt:
    number = _whole(raw.get("n"))
    outcome = str(raw.get("o") or "?")
    if "at" in raw:  # a mark: no run
        moment = _moment(raw.get("at"))
        return Attempt(outcome, started_at=moment, finished_at=moment)
    return Attempt(
        outcome,
        number=number,
        started_at=_moment(raw.get("st")),
        finished_at=_moment(raw.get("fin")),
        worker=_text(raw.get("w")),
        error=_text(raw.get("err")),
        traceback=_text(raw.get("tb")),
        peak_memory=_whole(raw.get("m")),
    )


def _current(job: Job, fields: dict[str, str], stored: list[Attempt]) -> list[Attempt]:
    """The entry the record itself holds: the attempt that ended the job (or is
    running), or the final mark of a job that ended without running again. None for
    a job waiting for its next attempt: its last one is stored already."""
    status = job.status
    ran = job.started_at is not None and _ran_since(job, stored)
    if status is JobStatus.RUNNING:
        return [_record_attempt(job, fields, "running", finished=False)]
    if status in (JobStatus.SUCCEEDED, JobStatus.DEAD) or (status is JobStatus.CANCELLED and ran):
        if not ran:  # dead without a new run (a bad record, a full gate): a mark
            return [Attempt(status.value, finished_at=job.finished_at, error=job.error)]
        outcome = status.value
        if status is JobStatus.DEAD and (job.error or "").startswith(WORKER_LOST):
            outcome = WORKER_LOST
        return [_record_attempt(job, fields, outcome, finished=True)]
    if status in _FINAL_EVENTS:
        return [Attempt(status.value, finished_at=job.finished_at, error=job.error)]
    return []


def _ran_since(job: Job, stored: list[Attempt]) -> bool:
    """Whether the record holds a run the stored entries do not: its start differs
    from the last stored attempt's (a hand-back's next run reuses its number), or its
    number is higher (a run may start in the millisecond of the mark before it, such
    as a retry's). Marks are not runs: their times say nothing about the record's."""
    last = next((entry for entry in reversed(stored) if entry.number is not None), None)
    if last is None:
        return True
    return last.started_at != job.started_at or (job.attempts or 0) > (last.number or 0)


def _record_attempt(job: Job, fields: dict[str, str], outcome: str, *, finished: bool) -> Attempt:
    failed = outcome != "succeeded"
    return Attempt(
        outcome,
        number=job.attempts,
        started_at=job.started_at,
        finished_at=job.finished_at if finished else None,
        worker=job.worker_id,
        error=job.error if failed else None,
        traceback=(job.traceback or None) if failed else None,
        peak_memory=_whole(fields.get(Field.MEMORY)),
    )


def _moment(value: Any) -> datetime | None:
    number = _whole(value)
    try:
        return from_millis(number) if number else None
    except (OverflowError, OSError, ValueError):
        return None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value == value:  # noqa: PLR0124 (NaN)
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
