"""Schedule specs: cron (5 fields, or 6 with seconds first), macros and `@every`.

Pure: no I/O, no clock. Times go in and out as aware datetimes; cron fields are read
in the schedule's IANA zone, `@every` intervals are absolute (elapsed seconds, so
daylight-saving changes neither stretch nor shrink them).

Cron semantics are Debian cron's, via cronsim, which we checked against our rules
(tests/schedule/test_spec.py): a wall-clock time skipped by a spring-forward change
runs once, at the first valid instant after the gap; a time that occurs twice on a
fall-back day runs once, at its first occurrence; specs that name every hour or
minute run at every real hour or minute; day-of-month and day-of-week combine with
OR when both are restricted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from chronoq.core.errors import ConfigurationError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_FIELD_NAMES = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")


def parse_duration(text: str) -> timedelta:
    """`30s`, `15m`, `2h`, `1h30m`, `1d`, `500ms`: a positive duration."""
    compact = text.replace(" ", "").lower()
    if not compact or _DURATION.sub("", compact):
        raise ConfigurationError(f"bad duration {text!r}; write it like 30s, 15m, 2h or 1h30m")
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(compact))
    if seconds <= 0:
        raise ConfigurationError(f"@every needs a positive duration, got {text!r}")
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Cron:
    """A cron expression, with the macro it came from (if any) for display."""

    expression: str
    source: str

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first run strictly after `moment`, as an aware UTC datetime."""
        local = moment.astimezone(tz)
        found: datetime = next(CronSim(self.expression, local))
        return found.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Every:
    """Fixed interval, anchored: runs at anchor + k * interval, for whole k (the
    phase extends before the anchor too)."""

    interval: timedelta
    source: str

    def next_after(self, moment: datetime, anchor: datetime) -> datetime:
        step = self.interval.total_seconds()
        elapsed = (moment - anchor).total_seconds()
        k = math.floor(elapsed / step) + 1
        candidate = anchor + timedelta(seconds=k * step)
        while candidate <= moment:  # float rounding at exact multiples
            k += 1
            candidate = anchor + timedelta(seconds=k * step)
        return candidate.astimezone(UTC)


Spec = Cron | Every


def parse_spec(text: str) -> Spec:
    """Parse and validate a spec; errors name the field and the problem."""
    source = " ".join(text.split())
    if not source:
        raise ConfigurationError("empty schedule spec")
    lowered = source.lower()
    if lowered.startswith("@every"):
        return Every(parse_duration(source[len("@every") :].strip()), source)
    if lowered.startswith("@"):
        if lowered not in MACROS:
            known = ", ".join([*MACROS, "@every <duration>"])
            raise ConfigurationError(f"unknown macro {source!r}; use one of {known}")
        return Cron(MACROS[lowered], source)
    _validate_cron(source)
    return Cron(source, source)


def _validate_cron(expression: str) -> None:
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ConfigurationError(
            f"cron spec {expression!r} has {len(fields)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week) or 6 (seconds first)"
        )
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ConfigurationError(f"bad cron spec {expression!r}: {_field_message(exc)}") from None
    except (ValueError, IndexError) as exc:
        raise ConfigurationError(f"bad cron spec {expression!r}: {exc}") from None


def _field_message(exc: CronSimError) -> str:
    """cronsim says 'Bad day-of-month'; keep it, and say which fields exist."""
    message = str(exc) or "invalid expression"
    return f"{message} (fields: {' '.join(_FIELD_NAMES[1:])}, or seconds first)"


def upcoming(
    spec: Spec, tz: ZoneInfo, after: datetime, *, anchor: datetime | None = None
) -> Iterator[datetime]:
    """Run times strictly after `after`, in UTC, forever (callers slice)."""
    moment = after
    while True:
        if isinstance(spec, Cron):
            moment = spec.next_after(moment, tz)
        else:
            moment = spec.next_after(moment, anchor or after)
        yield moment
