"""Rate limits and quotas: what they allow, as pure values (no I/O, no clock).

A *rate* limit spaces starts: `limit` per `period` on average (GCRA), up to `burst`
extra at once, at least `min_gap` seconds apart, and only inside its allowed
`windows` (days and hours in its zone). A *quota* counts runs per calendar day or
hour in the account's zone, and defers the rest to the next period.

The decision itself is one Lua script (limit_acquire.lua); this module turns the
configuration into what the script needs: the allowed intervals of the next days,
or the upcoming period boundaries, in UTC epoch milliseconds.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chronoq.core import serialization
from chronoq.core.errors import ConfigurationError
from chronoq.core.names import validate_limit_name
from chronoq.core.zones import zone

WINDOW_HORIZON_DAYS = 8  # a weekly window always recurs within this many days
QUOTA_PERIODS = {"hour": 48, "day": 8}  # upcoming periods a booking may reach
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(
    r"^\s*(?:(?P<days>[a-z,\-]+)\s+)?(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


class Kind(enum.StrEnum):
    RATE = "rate"
    QUOTA = "quota"


class Period(enum.StrEnum):
    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @property
    def ms(self) -> int:
        return _PERIOD_MS[self]

    @classmethod
    def parse(cls, text: str) -> Period:
        value = _PERIOD_ALIASES.get(text.strip().lower())
        if value is None:
            raise ConfigurationError(
                f"unknown period {text!r}; use second, minute, hour or day (s, min, h, d)"
            )
        return value


_PERIOD_MS = {Period.SECOND: 1000, Period.MINUTE: 60_000, Period.HOUR: 3_600_000,
              Period.DAY: 86_400_000}  # fmt: skip
_PERIOD_ALIASES = {
    alias: period
    for period, aliases in {
        Period.SECOND: ("s", "sec", "second", "seconds"),
        Period.MINUTE: ("m", "min", "minute", "minutes"),
        Period.HOUR: ("h", "hr", "hour", "hours"),
        Period.DAY: ("d", "day", "days"),
    }.items()
    for alias in aliases
}


def parse_rate(text: str) -> tuple[int, Period]:
    """`600/min`, `10/s`, `1000/day`: (count, period)."""
    count, sep, period = text.partition("/")
    if not sep or not count.strip().isdigit() or int(count) < 1:
        raise ConfigurationError(f"bad rate {text!r}; write it like 600/min, 10/s or 1000/day")
    return int(count), Period.parse(period)


@dataclass(frozen=True, slots=True)
class Window:
    """Allowed hours on some days of the week, e.g. `mon-fri 09:00-18:00`.

    An end at or before the start crosses midnight (`22:00-06:00`); `00:00-24:00`
    is the whole day. Wall-clock times in the limit's zone: on a daylight-saving
    day the window keeps its wall-clock hours (so it is an hour shorter or longer).
    """

    days: frozenset[int]  # 0 = Monday
    start: time
    end: time
    end_of_day: bool = False  # "24:00"

    @classmethod
    def parse(cls, text: str) -> Window:
        match = _WINDOW.match(text.lower())
        if not match:
            raise ConfigurationError(
                f"bad window {text!r}; write it like 'mon-fri 09:00-18:00' or '08:00-20:00'"
            )
        days = _parse_days(match["days"]) if match["days"] else frozenset(range(7))
        start, _ = _parse_clock(match["start"], text)
        end, end_of_day = _parse_clock(match["end"], text)
        if start == end and not end_of_day:
            raise ConfigurationError(f"window {text!r} is empty: its start equals its end")
        return cls(days, start, end, end_of_day)

    def __str__(self) -> str:
        days = ",".join(_DAYS[d] for d in sorted(self.days))
        end = "24:00" if self.end_of_day else self.end.strftime("%H:%M")
        return f"{days} {self.start.strftime('%H:%M')}-{end}"

    def intervals(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The window opened on `day` (local), as UTC instants, or None if closed."""
        if day.weekday() not in self.days:
            return None
        opens = _local(day, self.start, tz)
        crosses = self.end_of_day or self.end <= self.start
        closes = _local(day + timedelta(days=1) if crosses else day, self.end, tz)
        return opens, closes


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ConfigurationError(
                f"bad days {text!r}; use mon..sun, e.g. 'mon-fri' or 'sat,sun'"
            )
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    return frozenset(days)


def _parse_clock(text: str, window: str) -> tuple[time, bool]:
    hours, minutes = (int(n) for n in text.split(":"))
    if (hours, minutes) == (24, 0):
        return time(0, 0), True
    if hours > 23 or minutes > 59:
        raise ConfigurationError(f"bad time {text!r} in window {window!r}")
    return time(hours, minutes), False


def _local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant. A time skipped by a spring-forward
    change maps to the instant after the gap (fold=0 reads it with the old offset)."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Limit:
    """A named rate limit or quota. Each key (e.g. an account) has its own budget."""

    name: str
    limit: int
    period: Period
    kind: Kind = Kind.RATE
    burst: int = 0
    min_gap: float = 0.0  # seconds between two starts
    windows: tuple[Window, ...] = ()
    tz: str = "UTC"

    def __post_init__(self) -> None:
        validate_limit_name(self.name)
        zone(self.tz)
        object.__setattr__(self, "kind", Kind(self.kind))
        object.__setattr__(self, "period", Period(self.period))
        if self.limit < 1:
            raise ConfigurationError(f"limit {self.name!r}: count must be >= 1, got {self.limit}")
        if self.burst < 0 or self.min_gap < 0:
            raise ConfigurationError(f"limit {self.name!r}: burst and min_gap must be >= 0")
        if self.kind is Kind.QUOTA and self.period not in (Period.HOUR, Period.DAY):
            raise ConfigurationError(
                f"quota {self.name!r} counts per hour or per day, not per {self.period.value}"
            )
        if self.kind is Kind.QUOTA and (self.burst or self.min_gap or self.windows):
            raise ConfigurationError(
                f"quota {self.name!r} takes no burst, min_gap or windows (rate limits do)"
            )

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.tz)

    @property
    def rate_text(self) -> str:
        return f"{self.limit}/{self.period.value}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "limit": self.limit,
            "period": self.period.value,
            "burst": self.burst,
            "min_gap": self.min_gap,
            "windows": [str(w) for w in self.windows],
            "tz": self.tz,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Limit:
        return cls(
            name=raw["name"],
            limit=int(raw["limit"]),
            period=Period(raw["period"]),
            kind=Kind(raw.get("kind", "rate")),
            burst=int(raw.get("burst", 0)),
            min_gap=float(raw.get("min_gap", 0.0)),
            windows=tuple(Window.parse(w) for w in raw.get("windows", ())),
            tz=raw.get("tz", "UTC"),
        )

    def fingerprint(self) -> str:
        text = serialization.dumps(self.to_dict())
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    # -- what the script needs ----------------------------------------------

    def allowed_intervals(self, now: datetime) -> list[list[int]]:
        """The windows' open intervals from yesterday to the horizon, merged, in
        epoch ms. Empty when the limit has no windows (always allowed)."""
        if not self.windows:
            return []
        tz = self.zone
        today = now.astimezone(tz).date()
        spans = []
        for offset in range(-1, WINDOW_HORIZON_DAYS + 1):
            for window in self.windows:
                span = window.intervals(today + timedelta(days=offset), tz)
                if span is not None:
                    spans.append((_ms(span[0]), _ms(span[1])))
        return _merge(spans)

    def period_starts(self, now: datetime, tz_name: str | None = None) -> list[int]:
        """A quota's current period start and the next ones (local midnights or hours
        in the account's zone), in epoch ms."""
        tz = zone(tz_name) if tz_name else self.zone
        local = now.astimezone(tz)
        if self.period is Period.DAY:
            day = local.date()
            return [
                _ms(_local(day + timedelta(days=i), time(0), tz))
                for i in range(QUOTA_PERIODS["day"] + 1)
            ]
        start = local.replace(minute=0, second=0, microsecond=0)
        first = start.astimezone(UTC)
        return [_ms(first + timedelta(hours=i)) for i in range(QUOTA_PERIODS["hour"] + 1)]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _merge(spans: Iterable[tuple[int, int]]) -> list[list[int]]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def parse_windows(texts: Sequence[str]) -> tuple[Window, ...]:
    return tuple(Window.parse(text) for text in texts)
