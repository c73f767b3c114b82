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
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
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


ALLOW, FORBID = "allow", "forbid"
_ALLOW_WORDS = {"allow", "open", "allowed"}
_FORBID_WORDS = {"forbid", "closed", "close", "forbidden", "deny"}


@dataclass(frozen=True, slots=True)
class WindowRate:
    """A window with its own rule: its own rate (`"30/h"`), the limit's own rate
    (`"allow"`), or no starts at all (`"forbid"`). Outside every such window the
    limit's rate applies (seed 004's "extra delays during business hours")."""

    window: Window
    rate: tuple[int, Period] | None = None  # None: the limit's rate, or closed if `closed`
    closed: bool = False

    @classmethod
    def parse(cls, window: str, rule: str) -> WindowRate:
        parsed = Window.parse(window)
        word = rule.strip().lower() if isinstance(rule, str) else ""
        if word in _ALLOW_WORDS:
            return cls(parsed)
        if word in _FORBID_WORDS:
            return cls(parsed, closed=True)
        if not isinstance(rule, str) or "/" not in rule:
            raise ConfigurationError(
                f"bad rule {rule!r} for window {window!r}; give a rate like '30/h', "
                "'allow' or 'forbid'"
            )
        return cls(parsed, parse_rate(rule))

    @property
    def rule_text(self) -> str:
        if self.closed:
            return FORBID
        if self.rate is None:
            return ALLOW
        return f"{self.rate[0]}/{self.rate[1].value}"

    def __str__(self) -> str:
        return f"{self.window}={self.rule_text}"


# `windows=` as App.limit takes it: allowed windows (closed elsewhere), or windows
# with their own rule (the limit's rate elsewhere).
WindowsSpec = Sequence[str] | Mapping[str, str]


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
    windows: tuple[Window, ...] = ()  # allowed hours: no starts outside them
    tz: str = "UTC"
    window_rates: tuple[WindowRate, ...] = ()  # windows with their own rate, in order

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
        if self.kind is Kind.QUOTA and (
            self.burst or self.min_gap or self.windows or self.window_rates
        ):
            raise ConfigurationError(
                f"quota {self.name!r} takes no burst, min_gap or windows (rate limits do)"
            )

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.tz)

    @property
    def rate_text(self) -> str:
        return f"{self.limit}/{self.period.value}"

    @property
    def emission_ms(self) -> float:
        """Milliseconds one start uses of the budget at the limit's own rate."""
        return self.period.ms / self.limit

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind.value,
            "limit": self.limit,
            "period": self.period.value,
            "burst": self.burst,
            "min_gap": self.min_gap,
            "windows": [str(w) for w in self.windows],
            "tz": self.tz,
        }
        if self.window_rates:  # absent otherwise: older limits keep their fingerprint
            out["window_rates"] = [[str(r.window), r.rule_text] for r in self.window_rates]
        return out

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
            window_rates=tuple(WindowRate.parse(w, r) for w, r in raw.get("window_rates", ())),
        )

    def fingerprint(self) -> str:
        text = serialization.dumps(self.to_dict())
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    # -- what the script needs ----------------------------------------------

    def allowed_intervals(self, now: datetime) -> list[list[int]]:
        """The open intervals from yesterday to the horizon, in epoch ms: merged
        `[start, end]` pairs for allowed windows, or `[start, end, emission ms]`
        when windows carry their own rates. Empty: always open at the limit's rate."""
        if not self.windows and not self.window_rates:
            return []
        today = now.astimezone(self.zone).date()
        allowed = [self._spans(w, today) for w in self.windows]
        if not self.window_rates:
            return _merge(span for spans in allowed for span in spans)
        return self._rated_segments(today, _merge(s for spans in allowed for s in spans))

    def _spans(self, window: Window, today: date) -> list[tuple[int, int]]:
        spans = []
        for offset in range(-1, WINDOW_HORIZON_DAYS + 1):
            span = window.intervals(today + timedelta(days=offset), self.zone)
            if span is not None:
                spans.append((_ms(span[0]), _ms(span[1])))
        return spans

    def _rated_segments(self, today: date, allowed: list[list[int]]) -> list[list[int]]:
        """Cut the horizon at every window edge; each piece takes the rule of the
        first window (in declared order) covering it, else the limit's rate (closed
        outside the allowed windows, when there are any)."""
        first = _ms(_local(today - timedelta(days=1), time(0), self.zone))
        last = _ms(_local(today + timedelta(days=WINDOW_HORIZON_DAYS + 1), time(0), self.zone))
        rules = [(rule, _merge(self._spans(rule.window, today))) for rule in self.window_rates]
        edges = {first, last}
        for _, spans in rules:
            edges.update(edge for span in spans for edge in span if first < edge < last)
        for span in allowed:
            edges.update(edge for edge in span if first < edge < last)
        cuts = sorted(edges)
        out: list[list[int]] = []
        for start, end in itertools.pairwise(cuts):
            emission = self._emission_at(start, rules, allowed)
            if emission is None:
                continue
            if out and out[-1][1] == start and out[-1][2] == emission:
                out[-1][1] = end
            else:
                out.append([start, end, emission])
        return out

    def _emission_at(
        self,
        moment: int,
        rules: list[tuple[WindowRate, list[list[int]]]],
        allowed: list[list[int]],
    ) -> int | None:
        if self.windows and not _covers(allowed, moment):
            return None
        for rule, spans in rules:
            if _covers(spans, moment):
                if rule.closed:
                    return None
                if rule.rate is not None:
                    return max(1, round(rule.rate[1].ms / rule.rate[0]))
                break
        return max(1, round(self.emission_ms))

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


def period_days(starts: Sequence[int], tz_name: str) -> list[str]:
    """The local day (ISO date in the account's zone) each quota period starts on:
    the day its use is counted under in the quota's use history."""
    tz = zone(tz_name)
    return [datetime.fromtimestamp(s / 1000, tz).date().isoformat() for s in starts]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _covers(spans: list[list[int]], moment: int) -> bool:
    return any(start <= moment < end for start, end in spans)


def _merge(spans: Iterable[tuple[int, int] | list[int]]) -> list[list[int]]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def parse_windows(texts: Sequence[str]) -> tuple[Window, ...]:
    return tuple(Window.parse(text) for text in texts)


def split_windows(windows: WindowsSpec) -> tuple[tuple[Window, ...], tuple[WindowRate, ...]]:
    """`windows=` as given: a list of allowed windows, or a mapping of windows to
    their own rule ("30/h", "allow", "forbid")."""
    if isinstance(windows, str):
        raise ConfigurationError(
            f"windows must be a list of windows or a mapping of windows to rates, got {windows!r}"
        )
    if isinstance(windows, Mapping):
        return (), tuple(WindowRate.parse(w, rule) for w, rule in windows.items())
    return parse_windows(windows), ()


def rate_limit(
    name: str,
    rate: str,
    *,
    burst: int = 0,
    min_gap: float = 0.0,
    windows: WindowsSpec = (),
    tz: str = "UTC",
) -> Limit:
    """A rate limit from the words App.limit and the CLI take."""
    count, period = parse_rate(rate)
    allowed, rated = split_windows(windows)
    return Limit(name, count, period, burst=burst, min_gap=min_gap, windows=allowed, tz=tz,
                 window_rates=rated)  # fmt: skip


def quota(name: str, limit: int, *, per: str = "day", tz: str = "UTC") -> Limit:
    """A quota: at most `limit` runs per account per local day or hour."""
    return Limit(name, limit, Period.parse(per), kind=Kind.QUOTA, tz=tz)


@dataclass(frozen=True, slots=True)
class LimitChanges:
    """Some settings of a stored limit, changed; those not given keep their values.
    `windows=()` drops the windows (always open)."""

    rate: str | None = None
    burst: int | None = None
    min_gap: float | None = None
    windows: WindowsSpec | None = None
    tz: str | None = None

    def apply(self, limit: Limit) -> Limit:
        raw = limit.to_dict()
        if self.rate is not None:
            count, period = parse_rate(self.rate)
            raw.update(limit=count, period=period.value)
        for name, value in (("burst", self.burst), ("min_gap", self.min_gap), ("tz", self.tz)):
            if value is not None:
                raw[name] = value
        if self.windows is not None:
            allowed, rated = split_windows(self.windows)
            raw["windows"] = [str(w) for w in allowed]
            raw["window_rates"] = [[str(r.window), r.rule_text] for r in rated]
        return Limit.from_dict(raw)
