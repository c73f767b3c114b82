"""The read models the schedule manager returns beyond `ScheduleInfo`: a run of
the history with its job's state now, and the outcome of a backfill."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chronoq.schedule.runs import RunRecord

BACKFILL_TTL = 7 * 86400.0  # seconds a backfilled run's idempotency key lives (capped
# at the retention): backfilling the same range again within it enqueues nothing new


@dataclass(frozen=True, slots=True)
class RunView:
    """One history record, with the state its job is in now (None: no job, or its
    record is gone)."""

    record: RunRecord
    status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.record.to_dict(), "status": self.status}


@dataclass(frozen=True, slots=True)
class BackfilledRun:
    due: datetime
    job_id: str
    queue: str
    created: bool  # False: this run time was enqueued before (idempotent)

    def to_dict(self) -> dict[str, Any]:
        return {"due": self.due.isoformat(), "job": self.job_id, "queue": self.queue,
                "created": self.created}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Backfill:
    """What `Schedules.backfill` did for the range [start, end]."""

    schedule: str
    start: datetime
    end: datetime  # as asked, or the server's now when the asked end was later
    runs: list[BackfilledRun]

    @property
    def enqueued(self) -> int:
        return sum(1 for run in self.runs if run.created)

    @property
    def existing(self) -> int:
        return len(self.runs) - self.enqueued

    def to_dict(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "runs": [r.to_dict() for r in self.runs],
            "enqueued": self.enqueued,
            "existing": self.existing,
        }
