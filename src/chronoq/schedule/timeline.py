"""Read models of a schedule's future: its next runs with daylight-saving changes
marked, a calendar of runs per day, the runs of a past range (for backfills), and
the check of a spec an operator is typing.

Pure: times in, times out. Each planned run carries its zone's UTC offset and, when
the offset differs from the previous run's, which way it moved: "forward" (clocks
went forward: a wall-clock hour was skipped, a run in it moves to after the gap)
or "back" (clocks went back: an hour repeats, a run in it fires once).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import require_aware
from chronoq.core.zones import zone
from chronoq.schedule.model import ScheduleDef
from chronoq.schedule.spec import Cron, Every, Spec, parse_spec, upcoming

Shift = Literal["forward", "back"]
CALENDAR_RUNS_MAX = 20_000  # cron runs counted per schedule per calendar (more: truncated)
RANGE_RUNS_MAX = 1000  # most runs of one backfill (MAX_CATCH_UP's bound)
NEXT_RUNS_MAX = 1000


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """One future run: when (UTC and local), the zone's offset then, and the
    daylight-saving change since the previous run, if any."""

    at: datetime  # UTC
    local: datetime  # in the schedule's zone
    utc_offset: int  # seconds east of UTC at the run
    offset_change: int  # seconds the offset moved since the previous run (0: none)

    @property
    def shift(self) -> Shift | None:
        if self.offset_change > 0:
            return "forward"
        return "back" if self.offset_change < 0 else None

    def to_dict(self) -> dict[str, Any]:
        shift = self.shift
        note = None
        if shift is not None:
            hours = abs(self.offset_change) / 3600
            moved = "skipped" if shift == "forward" else "repeated"
            note = (
                f"clocks went {shift} {hours:g} h since the previous run: wall-clock time {moved}"
            )
        return {
            "at": self.at.isoformat(),
            "local": self.local.isoformat(),
            "utc_offset": self.utc_offset,
            "dst_change": shift,
            "offset_change": self.offset_change,
            "note": note,
        }


def plan_runs(
    definition: ScheduleDef, after: datetime, count: int = 5, *, runs_so_far: int = 0
) -> list[PlannedRun]:
    """The next `count` runs strictly after `after`, each marked against the previous
    one (the first against the offset at `after`). Stops early when the schedule ends."""
    require_aware(after, "after")
    if not 0 < count <= NEXT_RUNS_MAX:
        raise ConfigurationError(f"count must be within 1..{NEXT_RUNS_MAX}, got {count}")
    times: list[datetime] = []
    moment = after
    while len(times) < count:
        following = _next(definition, moment, runs_so_far + len(times))
        if following is None:
            break
        times.append(following)
        moment = following
    return mark(times, definition.zone, after)


def mark(times: list[datetime], tz: ZoneInfo, start: datetime) -> list[PlannedRun]:
    """`times` as planned runs in `tz`, each offset compared with the one before
    (the first with the offset at `start`)."""
    previous = _offset(start, tz)
    out = []
    for at in times:
        offset = _offset(at, tz)
        out.append(PlannedRun(at, at.astimezone(tz), offset, offset - previous))
        previous = offset
    return out


def runs_between(definition: ScheduleDef, start: datetime, end: datetime) -> list[datetime]:
    """The run times in [start, end] (the schedule's own start and end apply; its
    max_runs does not: a backfill replays times). Raises when over RANGE_RUNS_MAX."""
    require_aware(start, "backfill start")
    require_aware(end, "backfill end")
    if end < start:
        raise ConfigurationError(
            f"a backfill range ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        )
    times: list[datetime] = []
    moment = _safe(lambda: start - timedelta(microseconds=1)) or start
    while True:
        following = _next(definition, moment)
        if following is None or following > end:
            return times
        if len(times) >= RANGE_RUNS_MAX:
            raise ConfigurationError(
                f"the range holds more than {RANGE_RUNS_MAX} runs of {definition.name!r}; "
                "backfill a shorter one at a time"
            )
        times.append(following)
        moment = following


# -- the calendar --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalendarDay:
    day: date
    runs: dict[str, int]  # schedule name -> runs that day

    @property
    def total(self) -> int:
        return sum(self.runs.values())

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "runs": dict(self.runs), "total": self.total}


@dataclass(frozen=True, slots=True)
class Calendar:
    """Runs per day per schedule over `days` days from `start`'s day, in `tz`."""

    tz: str
    start: date
    days: list[CalendarDay]
    paused: list[str] = field(default_factory=list)  # not counted: they run nothing
    truncated: list[str] = field(default_factory=list)  # counted up to CALENDAR_RUNS_MAX

    def to_dict(self) -> dict[str, Any]:
        return {
            "tz": self.tz,
            "start": self.start.isoformat(),
            "days": [d.to_dict() for d in self.days],
            "paused": list(self.paused),
            "truncated": list(self.truncated),
        }


def calendar(
    definitions: list[tuple[ScheduleDef, int]], now: datetime, *, days: int = 7, tz: str = "UTC"
) -> Calendar:
    """Runs per day for each (definition, runs so far), from `now` to the end of the
    `days`-th local day (today counts from now: past runs are history)."""
    require_aware(now, "now")
    if not 1 <= days <= 31:
        raise ConfigurationError(f"a calendar spans 1..31 days, got {days}")
    where = zone(tz)
    first = now.astimezone(where).date()
    bounds = [datetime.combine(first + timedelta(days=i), time(), where) for i in range(days + 1)]
    counts: list[dict[str, int]] = [{} for _ in range(days)]
    paused, truncated = [], []
    for definition, runs in definitions:
        name = definition.name
        if definition.paused:
            paused.append(name)
            continue
        per_day, cut = _runs_per_day(definition, runs, now, bounds)
        if cut:
            truncated.append(name)
        for i, n in enumerate(per_day):
            if n:
                counts[i][name] = n
    out = [CalendarDay(first + timedelta(days=i), counts[i]) for i in range(days)]
    return Calendar(where.key, first, out, sorted(paused), sorted(truncated))


def _runs_per_day(
    d: ScheduleDef, runs: int, now: datetime, bounds: list[datetime]
) -> tuple[list[int], bool]:
    per_day = [0] * (len(bounds) - 1)
    spec = d.parsed
    if isinstance(spec, Every) and d.max_runs is None:
        return _every_per_day(d, spec, now, bounds), False
    moment, seen = now, 0
    while True:
        following = _next(d, moment, runs + seen)
        if following is None or following >= bounds[-1]:
            return per_day, False
        if seen >= CALENDAR_RUNS_MAX:
            return per_day, True
        index = next(i for i in range(len(per_day)) if following < bounds[i + 1])
        per_day[index] += 1
        seen += 1
        moment = following


def _every_per_day(d: ScheduleDef, spec: Every, now: datetime, bounds: list[datetime]) -> list[int]:
    """Runs at anchor + k * step within each day (after now, within start/end), counted
    without listing them: an `@every 1s` schedule has 86,400 a day."""
    anchor = d.anchor or d.start or now
    step = spec.interval.total_seconds()
    low = max(now, d.start - timedelta(microseconds=1)) if d.start else now
    out = []
    for begin, finish in itertools.pairwise(bounds):
        lo = max(begin - timedelta(microseconds=1), low)  # runs strictly after lo
        hi = min(finish, d.end + timedelta(microseconds=1)) if d.end else finish  # before hi
        if hi <= lo:
            out.append(0)
            continue
        first = math.floor((lo - anchor).total_seconds() / step) + 1
        last = math.ceil((hi - anchor).total_seconds() / step) - 1
        out.append(max(0, last - first + 1))
    return out


# -- checking a spec -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpecCheck:
    """Whether a spec and zone are valid; if so, their next runs; if not, which
    field is wrong and why."""

    spec: str
    tz: str
    ok: bool
    field: str | None  # "spec" or "tz"
    part: str | None  # the cron field at fault ("minute", ...), when known
    error: str | None
    kind: str | None  # "cron" or "every"
    next_runs: list[PlannedRun]

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "tz": self.tz,
            "ok": self.ok,
            "error": None
            if self.ok
            else {"field": self.field, "part": self.part, "message": self.error},
            "kind": self.kind,
            "next_runs": [r.to_dict() for r in self.next_runs],
        }


_PARTS = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")


def check_spec(spec: str, tz: str, now: datetime, *, count: int = 5) -> SpecCheck:
    """Validate `spec` in zone `tz` and plan its next `count` runs after `now`."""
    require_aware(now, "now")
    try:
        where = zone(tz)
    except ConfigurationError as exc:
        return SpecCheck(spec, tz, False, "tz", None, str(exc), None, [])
    try:
        parsed = parse_spec(spec)
    except ConfigurationError as exc:
        return SpecCheck(spec, tz, False, "spec", _part(str(exc)), str(exc), None, [])
    times = _first_runs(parsed, where, now, count)
    kind = "cron" if isinstance(parsed, Cron) else "every"
    return SpecCheck(spec, where.key, True, None, None, None, kind, mark(times, where, now))


def _first_runs(spec: Spec, where: ZoneInfo, now: datetime, count: int) -> list[datetime]:
    runs = upcoming(spec, where, now, anchor=now)
    out: list[datetime] = []
    for _ in range(max(0, min(count, NEXT_RUNS_MAX))):
        found = _safe(lambda: next(runs))
        if found is None:
            break
        out.append(found)
    return out


def _next(d: ScheduleDef, moment: datetime, runs: int = 0) -> datetime | None:
    """`d.next_run_after`, None past the end of the calendar (year 9999)."""
    try:
        return d.next_run_after(moment, runs)
    except (OverflowError, ValueError):
        return None


def _safe(compute: Callable[[], datetime | None]) -> datetime | None:
    """A run time, or None past the end of the calendar (year 9999): no more runs."""
    try:
        return compute()
    except (OverflowError, ValueError):
        return None


def _part(message: str) -> str | None:
    """The cron field a cronsim message names ('Bad day-of-month' -> day-of-month)."""
    lowered = message.lower()
    head = lowered.split("(fields:")[0]
    for part in sorted(_PARTS, key=len, reverse=True):
        if f"bad {part}" in head:
            return part
    return None


def _offset(moment: datetime, tz: ZoneInfo) -> int:
    offset = moment.astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset else 0
