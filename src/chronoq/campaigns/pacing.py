"""Campaign send rules: the one owner of when a campaign may send (pure, no I/O).

A send is allowed when the recipient's sending windows are open (days and hours in
the recipient's zone, else the account's) and the account still has room today:
`per_day` (after the warm-up ramp) and `per_domain_per_day`, both counted per
*account-local* day (the account's midnight, never UTC's). The runtime grant
(chronoq.campaigns.grant with redis/scripts/cmp_grant.lua) applies these rules one
send at a time; `plan` and `forecast` apply the very same rules to a whole list of
recipients, as if every recipient's send job were due at `start_ms` and, when
refused, deferred to the time the grant names (the next window opening, or the next
account day's first opening after a full day). Recipients earlier in the list win
ties, so the plan is exactly the run a virtual clock would see.

Warm-up: day n of sending (n = account-local calendar days since the account's
first local day with a send, day 0 that first day) allows
min(per_day, start + step * (n // every_days)).

Pacing does not space sends inside a day: a rate limit on the send task does that.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chronoq.core.errors import ConfigurationError
from chronoq.core.limits import Window
from chronoq.core.zones import zone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEARCH_DAYS = 8  # a weekly window always recurs within this many local days
_MAX_IDLE_DAYS = 370  # a plan that grants nothing for this long can never finish
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Warmup(BaseModel):
    """A ramp for a new sending account: day n allows start + step * (n // every_days)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int = Field(ge=1, description="sends allowed on the first day of sending")
    step: int = Field(ge=0, description="sends added every `every_days` days")
    every_days: int = Field(default=1, ge=1, description="days between two steps")


class Pacing(BaseModel):
    """When a campaign may send: windows (recipient's zone, else the account's) and
    caps per account-local day."""

    model_config = ConfigDict(extra="forbid")

    windows: list[str] = Field(default_factory=list)
    per_day: int | None = Field(default=None, ge=1)
    per_domain_per_day: int | None = Field(default=None, ge=1)
    warmup: Warmup | None = None

    @field_validator("windows")
    @classmethod
    def _check_windows(cls, windows: list[str]) -> list[str]:
        for index, text in enumerate(windows):
            try:
                Window.parse(text)
            except ConfigurationError as exc:
                raise ValueError(f"windows[{index}]: {exc}") from None
        return windows


class RecipientLike(Protocol):
    """What pacing reads of a recipient (chronoq.campaigns.model.Recipient is one)."""

    @property
    def email(self) -> str: ...

    @property
    def zone(self) -> str | None: ...


class CampaignLike(Protocol):
    """What planning reads of a campaign (chronoq.campaigns.model.CampaignSpec is one)."""

    @property
    def pacing(self) -> Pacing: ...

    @property
    def timezone(self) -> str: ...


class UsageLike(Protocol):
    """Sends already counted for one account (the grant store's `usage` is one)."""

    @property
    def first_day(self) -> date | None: ...

    @property
    def days(self) -> Mapping[date, int]: ...

    @property
    def domains(self) -> Mapping[date, Mapping[str, int]]: ...


@dataclass(frozen=True, slots=True)
class Usage:
    """Sends counted per account-local day (and per recipient domain), and the
    account's first local day of sending (None: it never sent; warm-up day 0 is then
    the day of its first send)."""

    days: Mapping[date, int] = field(default_factory=dict)
    domains: Mapping[date, Mapping[str, int]] = field(default_factory=dict)
    first_day: date | None = None


NO_USAGE = Usage()


@dataclass(frozen=True, slots=True)
class Slot:
    """A recipient's planned send: when (epoch ms), on which account-local day, and
    the zone its windows were read in."""

    email: str
    at_ms: int
    local_day: date
    zone: str = "UTC"


# -- time helpers ---------------------------------------------------------------


def _ms(moment: datetime) -> int:
    return int((moment - _EPOCH) // timedelta(milliseconds=1))


def local_day(zone_name: str, at_ms: int) -> date:
    """The local calendar day of `at_ms` in `zone_name`."""
    return (_EPOCH + timedelta(milliseconds=at_ms)).astimezone(zone(zone_name)).date()


@lru_cache(maxsize=65536)
def day_start(zone_name: str, day: date) -> int:
    """Epoch ms of local midnight starting `day` (after the gap, if skipped)."""
    return _ms(datetime.combine(day, time(0), tzinfo=zone(zone_name)).astimezone(UTC))


@lru_cache(maxsize=256)
def _parsed(windows: tuple[str, ...]) -> tuple[Window, ...]:
    return tuple(Window.parse(text) for text in windows)


@lru_cache(maxsize=65536)
def _spans(windows: tuple[str, ...], zone_name: str, day: date) -> tuple[tuple[int, int], ...]:
    """The windows opened on local `day`, as epoch-ms spans (wall-clock hours kept
    across daylight saving; a window inside a skipped hour is empty)."""
    tz = zone(zone_name)
    spans = []
    for window in _parsed(windows):
        opened = window.intervals(day, tz)
        if opened is not None:
            start, end = _ms(opened[0]), _ms(opened[1])
            if start < end:
                spans.append((start, end))
    return tuple(sorted(spans))


def first_open(
    windows: Sequence[str], zone_name: str, from_ms: int, before_ms: int | None = None
) -> int | None:
    """The first instant >= `from_ms` (and < `before_ms`) the windows are open in
    `zone_name`: `from_ms` itself when open then; None when none (before the bound)."""
    key = tuple(windows)
    if not key:
        return from_ms if before_ms is None or from_ms < before_ms else None
    today = local_day(zone_name, from_ms)
    best: int | None = None
    for offset in range(-1, _SEARCH_DAYS + 1):
        day = today + timedelta(days=offset)
        for start, end in _spans(key, zone_name, day):
            if end > from_ms and (best is None or max(start, from_ms) < best):
                best = max(start, from_ms)
        # Windows of later days open at or after the next local midnight.
        if best is not None and best <= day_start(zone_name, day + timedelta(days=1)):
            break
    if best is None or (before_ms is not None and best >= before_ms):
        return None
    return best


# -- the rules ------------------------------------------------------------------


def cap_on(pacing: Pacing, sending_day_index: int) -> int | None:
    """The day cap on day `sending_day_index` of sending (0: the first), warm-up
    evaluated; None: no cap."""
    if sending_day_index < 0:
        raise ConfigurationError(f"sending_day_index must be >= 0, got {sending_day_index}")
    ramp = pacing.warmup
    if ramp is None:
        return pacing.per_day
    ramped = ramp.start + ramp.step * (sending_day_index // ramp.every_days)
    return ramped if pacing.per_day is None else min(pacing.per_day, ramped)


def cap_today(pacing: Pacing, day: date, first_day: date | None) -> int | None:
    """The cap of account-local `day` given the account's first sending day
    (None: it never sent, so `day` would be day 0)."""
    return cap_on(pacing, 0 if first_day is None else max(0, (day - first_day).days))


def recipient_zone(recipient_zone_name: str | None, account_zone: str) -> str:
    """The zone a recipient's windows are read in: its own, else the account's."""
    name = recipient_zone_name or account_zone
    zone(name)
    return name


def domain_of(email: str) -> str:
    """The recipient's domain (after the last '@'), lowercased."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        raise ConfigurationError(f"bad recipient email {email!r}: expected name@domain")
    return domain.lower()


def window_opening(
    pacing: Pacing, account_zone: str, recipient_zone_name: str | None, now_ms: int
) -> int:
    """When the recipient's windows next open: `now_ms` when open now."""
    name = recipient_zone(recipient_zone_name, account_zone)
    opening = first_open(pacing.windows, name, now_ms)
    if opening is None:  # pragma: no cover - a weekly window always recurs
        raise ConfigurationError(f"windows {pacing.windows!r} never open")
    return opening


def next_allowed(
    pacing: Pacing, account_zone: str, recipient_zone_name: str | None, now_ms: int
) -> int:
    """After a grant refused for a full day (or domain day): the recipient's first
    window opening from the account's next local midnight on."""
    zone(account_zone)
    tomorrow = local_day(account_zone, now_ms) + timedelta(days=1)
    return window_opening(
        pacing, account_zone, recipient_zone_name, day_start(account_zone, tomorrow)
    )


# -- planning -------------------------------------------------------------------


class _Planner:
    """The day-by-day sweep behind `plan`. Recipients are grouped per zone (their
    window opening is the same for a whole zone on a day) and, when a domain cap
    applies, per domain; each zone keeps a heap of its groups' first recipients, so
    a day costs O(zones + sends) and never a loop over minutes or waiting recipients."""

    def __init__(self, pacing: Pacing, account_zone: str, recipients: Sequence[RecipientLike]):
        self.pacing = pacing
        self.account_zone = account_zone
        self.emails = [r.email for r in recipients]
        self.zones = [recipient_zone(r.zone, account_zone) for r in recipients]
        self.domains = [domain_of(r.email) for r in recipients]
        self.groups: dict[tuple[str, str], deque[int]] = {}
        by_domain = pacing.per_domain_per_day is not None
        for index, (zone_name, domain) in enumerate(zip(self.zones, self.domains, strict=True)):
            key = (zone_name, domain if by_domain else "")
            self.groups.setdefault(key, deque()).append(index)
        self.heads: dict[str, list[tuple[int, str]]] = {}
        for (zone_name, domain), queue in self.groups.items():
            self.heads.setdefault(zone_name, []).append((queue[0], domain))
        for heap in self.heads.values():
            heapq.heapify(heap)

    def run(self, start_ms: int, usage: UsageLike) -> list[Slot]:
        slots: list[Slot | None] = [None] * len(self.emails)
        left, first, idle = len(self.emails), usage.first_day, 0
        day = local_day(self.account_zone, start_ms)
        while left:
            sent = self._day(day, max(start_ms, day_start(self.account_zone, day)), usage,
                             first, slots)  # fmt: skip
            if sent:
                left, idle = left - sent, 0
                first = first or day
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise ConfigurationError("pacing never allows a send: check its windows")
            day += timedelta(days=1)
        return [slot for slot in slots if slot is not None]

    def _day(
        self, day: date, lower: int, usage: UsageLike, first: date | None, slots: list[Slot | None]
    ) -> int:
        """Grant what day `day` allows, in (opening time, recipient order); returns
        how many were sent."""
        end = day_start(self.account_zone, day + timedelta(days=1))
        cap = cap_today(self.pacing, day, first)
        used = usage.days.get(day, 0)
        domain_cap = self.pacing.per_domain_per_day
        domain_used = Counter(usage.domains.get(day, {}))
        if cap is not None and used >= cap:
            return 0
        ready: list[tuple[int, int, str]] = []
        for zone_name, heap in self.heads.items():
            if heap:
                opening = first_open(self.pacing.windows, zone_name, lower, end)
                if opening is not None:
                    ready.append((opening, heap[0][0], zone_name))
        heapq.heapify(ready)
        sent, skipped = 0, []
        while ready and (cap is None or used + sent < cap):
            at, _, zone_name = heapq.heappop(ready)
            heap = self.heads[zone_name]
            index, domain = heapq.heappop(heap)
            if domain_cap is not None and domain_used[domain] >= domain_cap:
                skipped.append((zone_name, (index, domain)))  # this domain waits a day
            else:
                queue = self.groups[(zone_name, domain)]
                queue.popleft()
                slots[index] = Slot(self.emails[index], at, day, zone_name)
                sent += 1
                domain_used[self.domains[index]] += 1
                if queue:
                    heapq.heappush(heap, (queue[0], domain))
            if heap:
                heapq.heappush(ready, (at, heap[0][0], zone_name))
        for zone_name, head in skipped:
            heapq.heappush(self.heads[zone_name], head)
        return sent


def plan(
    pacing: Pacing,
    account_zone: str,
    recipients: Sequence[RecipientLike],
    start_ms: int,
    usage: UsageLike = NO_USAGE,
) -> list[Slot]:
    """Each recipient's send time under `pacing`, in recipient order: what the grant
    would answer if every recipient's send were tried at `start_ms` and, when
    refused, again at the time it names. `usage`: the account's sends already
    counted (its per-day, per-domain counts and first sending day)."""
    zone(account_zone)
    return _Planner(pacing, account_zone, recipients).run(start_ms, usage)


def plan_campaign(
    spec: CampaignLike,
    recipients: Sequence[RecipientLike],
    start_ms: int,
    usage: UsageLike = NO_USAGE,
) -> list[Slot]:
    """`plan` with a campaign's own pacing and account zone (`spec.timezone`)."""
    return plan(spec.pacing, spec.timezone, recipients, start_ms, usage)


# -- forecast -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Unnamed:
    """A recipient of a forecast by count: the account's zone, a domain of its own."""

    email: str
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class Forecast:
    """A campaign's sends simulated: the slots, sends per account-local day, the
    last send, and a sentence saying when the last recipient is reached."""

    slots: list[Slot]
    by_day: dict[date, int]
    last: Slot | None
    now_ms: int
    account_zone: str

    def text(self) -> str:
        """E.g. 'the last recipient is reached Thursday 14:20 their time
        (Europe/Paris), in 9 days at 50 a day'. Days are counted between the
        account-local dates of now and of the last send. The rate is the sends per
        day over every sending day but the last (a remainder), as one number or a
        range ('at 10 to 50 a day'); over one or two days, the larger count."""
        last = self.last
        if last is None:
            return "no recipients to reach"
        moment = (_EPOCH + timedelta(milliseconds=last.at_ms)).astimezone(zone(last.zone))
        when = f"{_WEEKDAYS[moment.weekday()]} {moment:%H:%M}"
        days = (last.local_day - local_day(self.account_zone, self.now_ms)).days
        after = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
        counts = [self.by_day[day] for day in sorted(self.by_day)]
        body = counts[:-1] if len(counts) > 2 else [max(counts)]
        low, high = min(body), max(body)
        rate = f"at {high} a day" if low == high else f"at {low} to {high} a day"
        return f"the last recipient is reached {when} their time ({last.zone}), {after} {rate}"


def forecast(
    pacing: Pacing,
    account_zone: str,
    recipients: Sequence[RecipientLike] | int,
    now_ms: int,
    usage: UsageLike = NO_USAGE,
) -> Forecast:
    """Simulate the sends of `recipients` (or of that many recipients in the
    account's zone, each of its own domain) starting `now_ms`."""
    if isinstance(recipients, int):
        if recipients < 0:
            raise ConfigurationError(f"recipients must be >= 0, got {recipients}")
        recipients = [_Unnamed(f"r{i}@{i}.forecast.invalid") for i in range(recipients)]
    slots = plan(pacing, account_zone, recipients, now_ms, usage)
    by_day = dict(sorted(Counter(slot.local_day for slot in slots).items()))
    # The latest send; of several at that instant, the one latest in the list.
    last = max(reversed(slots), key=lambda s: s.at_ms, default=None)
    return Forecast(slots, by_day, last, now_ms, account_zone)


def forecast_campaign(
    spec: CampaignLike,
    recipients: Sequence[RecipientLike] | int,
    now_ms: int,
    usage: UsageLike = NO_USAGE,
) -> Forecast:
    """`forecast` with a campaign's own pacing and account zone (`spec.timezone`)."""
    return forecast(spec.pacing, spec.timezone, recipients, now_ms, usage)
