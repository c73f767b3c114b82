"""Quota use per account per day, over a range of days (the metrics' "quota use per
account"), and the accounts nearest their cap.

limit_acquire.lua counts each start a quota grants, in the same call, under the
local day (the account's zone, as the quota counts it) of the period it is
counted in: one HASH per quota and day, account -> starts, kept
CHRONOQ_METRICS_DAYS (none with CHRONOQ_METRICS=0). Days are ISO dates: an
account ahead of UTC may already count tomorrow's, and a start booked for its
next local midnight counts the day after (UTC today + 2 at most, with UTC+14), so a
range of `days` ending today reads two days more. A read is one pipelined round trip per
quota. What one account used in its current period, to the second, is
`LimitStore.usage` (`chronoq quotas`); this is the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chronoq.core.errors import ConfigurationError
from chronoq.core.limits import Kind, Limit, Period
from chronoq.redis.backend import Backend
from chronoq.redis.errors import REDIS_FAULTS

TOP = 10
AHEAD = 2  # days after UTC today an account's use may already be counted under
MAX_DAYS = 400


@dataclass(frozen=True, slots=True)
class AccountUse:
    """One account's use of one quota over the range."""

    account: str
    total: int
    peak: int  # the most it used in one day
    peak_day: str
    day_cap: int  # the most a day allows: the cap, or 24 x cap for an hourly quota

    @property
    def peak_utilization(self) -> float:
        return self.peak / self.day_cap if self.day_cap else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "total": self.total,
            "peak": self.peak,
            "peak_day": self.peak_day,
            "day_cap": self.day_cap,
            "peak_utilization": round(self.peak_utilization, 4),
        }


@dataclass(frozen=True, slots=True)
class QuotaUse:
    """A quota's use per account per local day, `first` to `last` (ISO dates)."""

    quota: str
    cap: int
    period: str  # day or hour
    first: str
    last: str
    days: dict[str, dict[str, int]]  # day -> account -> starts granted (days with use)

    @property
    def day_cap(self) -> int:
        return self.cap * (24 if self.period == Period.HOUR.value else 1)

    def accounts(self) -> list[AccountUse]:
        """Every account of the range, nearest its cap first (peak day's use against
        what a day allows), then by total."""
        totals: dict[str, int] = {}
        peaks: dict[str, tuple[int, str]] = {}
        for day in sorted(self.days):
            for account, used in self.days[day].items():
                totals[account] = totals.get(account, 0) + used
                if used > peaks.get(account, (0, ""))[0]:
                    peaks[account] = (used, day)
        rows = [AccountUse(a, totals[a], peaks[a][0], peaks[a][1], self.day_cap) for a in totals]
        return sorted(rows, key=lambda r: (-r.peak, -r.total, r.account))

    def top(self, n: int = TOP) -> list[AccountUse]:
        return self.accounts()[:n]

    def to_dict(self, top: int = TOP) -> dict[str, Any]:
        return {
            "quota": self.quota,
            "cap": self.cap,
            "period": self.period,
            "first": self.first,
            "last": self.last,
            "days": {day: dict(sorted(used.items())) for day, used in sorted(self.days.items())},
            "top": [r.to_dict() for r in self.top(top)],
        }


def day_range(days: int, today: date | None = None) -> list[str]:
    """The ISO days of the last `days` days to today (UTC), and the two after: a
    zone ahead of UTC is already in tomorrow, and a start booked for its next local
    midnight counts the day after that."""
    if not 1 <= days <= MAX_DAYS:
        raise ConfigurationError(f"days must be within 1..{MAX_DAYS}, got {days}")
    end = (today or datetime.now(UTC).date()) + timedelta(days=AHEAD)
    return [(end - timedelta(days=i)).isoformat() for i in range(days + AHEAD - 1, -1, -1)]


async def quota_use(
    backend: Backend,
    limit: Limit,
    *,
    days: int = 7,
    accounts: list[str] | None = None,
    today: date | None = None,
) -> QuotaUse:
    """`limit`'s use history over the last `days` days (only `accounts`, if given)."""
    if limit.kind is not Kind.QUOTA:
        raise ConfigurationError(f"limit {limit.name!r} is a rate limit, not a quota")
    labels = day_range(days, today)
    found = await backend.limits.use_history(limit.name, labels)
    if accounts is not None:
        wanted = set(accounts)
        found = {d: {a: n for a, n in u.items() if a in wanted} for d, u in found.items()}
        found = {d: u for d, u in found.items() if u}
    return QuotaUse(limit.name, limit.limit, limit.period.value, labels[0], labels[-1], found)


async def quotas_use(backend: Backend, *, days: int = 7) -> list[QuotaUse]:
    """Every quota's use history (none when the limits cannot be read: a viewer
    may not), for `chronoq report`."""
    try:
        quotas = [lim for lim in await backend.limits.all() if lim.kind is Kind.QUOTA]
        return [await quota_use(backend, lim, days=days) for lim in quotas]
    except REDIS_FAULTS:
        return []
