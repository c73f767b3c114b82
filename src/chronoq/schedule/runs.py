"""A schedule's run history: one record per thing that happened to its runs.

Written by the scheduler loop when it advances a schedule (enqueued, skipped,
missed) and by operators' actions (triggered, backfilled, paused, resumed); kept
newest first, capped at HISTORY_CAP records per schedule (`ScheduleKeys.history`).
Pure data: JSON in and out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chronoq.core import serialization
from chronoq.core.job import from_millis, to_millis

HISTORY_CAP = 200  # records kept per schedule


class RunKind(enum.StrEnum):
    ENQUEUED = "enqueued"  # the scheduler made the run's job
    SKIPPED = "skipped"  # overlap=skip: the previous run's job had not finished
    MISSED = "missed"  # due while no scheduler ran, dropped by the misfire policy
    TRIGGERED = "triggered"  # an operator ran it now (`trigger`)
    BACKFILLED = "backfilled"  # an operator replayed a past run time
    PAUSED = "paused"
    RESUMED = "resumed"


@dataclass(frozen=True, slots=True)
class RunRecord:
    kind: RunKind
    at: datetime  # when it was recorded
    due: datetime | None = None  # the run time it is about (missed: the first one)
    job_id: str | None = None
    queue: str | None = None
    count: int = 1  # missed: how many runs; backfilled: how many enqueued
    until: datetime | None = None  # missed: the last run time dropped
    reason: str | None = None  # paused/resumed: the operator's reason
    by: str | None = None  # who did it (operators' actions)

    def to_json(self) -> str:
        raw: dict[str, Any] = {"k": self.kind.value, "at": to_millis(self.at)}
        if self.due is not None:
            raw["due"] = to_millis(self.due)
        if self.until is not None:
            raw["until"] = to_millis(self.until)
        for name, value in (("job", self.job_id), ("queue", self.queue),
                            ("reason", self.reason), ("by", self.by)):  # fmt: skip
            if value:
                raw[name] = value
        if self.count != 1:
            raw["n"] = self.count
        return serialization.dumps(raw)

    @classmethod
    def from_json(cls, text: str) -> RunRecord | None:
        """None for a record this version cannot read (skipped, not fatal)."""
        try:
            raw = serialization.loads(text)
            at = from_millis(int(raw["at"]))
            assert at is not None
            return cls(
                RunKind(raw["k"]),
                at,
                from_millis(int(raw["due"])) if "due" in raw else None,
                raw.get("job"),
                raw.get("queue"),
                int(raw.get("n", 1)),
                from_millis(int(raw["until"])) if "until" in raw else None,
                raw.get("reason"),
                raw.get("by"),
            )
        except (ValueError, KeyError, TypeError, AssertionError):
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "at": self.at.isoformat(),
            "due": self.due.isoformat() if self.due else None,
            "job": self.job_id,
            "queue": self.queue,
            "count": self.count,
            "until": self.until.isoformat() if self.until else None,
            "reason": self.reason,
            "by": self.by,
        }


def missed_record(at: datetime, missed: list[datetime]) -> RunRecord | None:
    """One record for the runs a firing dropped (none: None)."""
    if not missed:
        return None
    return RunRecord(RunKind.MISSED, at, missed[0], count=len(missed), until=missed[-1])
