"""The runtime grant of one campaign send: the pacing rules, applied at send time.

A send job asks `grant` right before it sends. Windows are checked here, in the
recipient's zone (else the account's): closed, the send is deferred to their next
opening. Open, one script call (redis/scripts/cmp_grant.lua, through
`backend.campaign_sends`) checks and counts the account's local day against its
cap (warm-up evaluated by chronoq.campaigns.pacing) and the recipient domain's cap,
once per grant id; refused, the send is deferred to `pacing.next_allowed`. The same
rules drive `pacing.plan`, so a forecast is what these grants will answer.

Time is the caller's (`now_ms`, from an injectable clock): a virtual clock replays
a campaign exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, Protocol

from chronoq.campaigns.pacing import (
    Pacing,
    RecipientLike,
    UsageLike,
    cap_today,
    day_start,
    domain_of,
    local_day,
    next_allowed,
    recipient_zone,
    window_opening,
)

DeferReason = Literal["window", "per_day", "per_domain_per_day"]


class GrantReplyLike(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def sent(self) -> int: ...


class SendCounter(Protocol):
    """What the grant needs of its store (`client.backend.campaign_sends` is one)."""

    async def grant(
        self,
        account: str,
        grant_id: str,
        *,
        day: date,
        cap: Callable[[date | None], int | None],
        domain: str,
        domain_cap: int | None,
        day_end_ms: int,
        now_ms: int,
    ) -> GrantReplyLike: ...

    async def usage(self, account: str, days: Sequence[date]) -> UsageLike: ...


@dataclass(frozen=True, slots=True)
class Granted:
    """Send now. `sent`: the account's sends that local day, this one included;
    `again`: this grant id was granted before (counted once)."""

    at_ms: int
    local_day: date
    sent: int
    again: bool = False


@dataclass(frozen=True, slots=True)
class Deferred:
    """Not now: try again at `until_ms` (no attempt spent). `reason`: the window was
    closed, or which cap was full."""

    until_ms: int
    reason: DeferReason


async def account_usage(
    sends: SendCounter, account: str, account_zone: str, now_ms: int
) -> UsageLike:
    """What `plan`/`forecast` from `now_ms` need of an account's counters: today's
    sends (per domain too) and its first sending day. Counters are written only when
    a send is granted, at its time, so no later day has any yet."""
    return await sends.usage(account, [local_day(account_zone, now_ms)])


async def grant(
    sends: SendCounter,
    pacing: Pacing,
    *,
    account: str,
    account_zone: str,
    recipient: RecipientLike,
    grant_id: str,
    now_ms: int,
) -> Granted | Deferred:
    """May `recipient` be sent to now, by `account` (its zone `account_zone`)?"""
    zone_name = recipient_zone(recipient.zone, account_zone)
    opening = window_opening(pacing, account_zone, zone_name, now_ms)
    if opening > now_ms:
        return Deferred(opening, "window")
    day = local_day(account_zone, now_ms)
    reply = await sends.grant(
        account,
        grant_id,
        day=day,
        cap=lambda first: cap_today(pacing, day, first),
        domain=domain_of(recipient.email),
        domain_cap=pacing.per_domain_per_day,
        day_end_ms=day_start(account_zone, day + timedelta(days=1)),
        now_ms=now_ms,
    )
    if reply.status == "denied":
        reason: DeferReason = "per_day" if reply.reason == "per_day" else "per_domain_per_day"
        return Deferred(next_allowed(pacing, account_zone, zone_name, now_ms), reason)
    return Granted(now_ms, day, reply.sent, again=reply.status == "again")
