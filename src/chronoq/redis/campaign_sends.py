"""Campaign send counters per sending account: the grant's storage.

Each account has, under its own hash tag `{cmpa:<account>}`, one counter HASH per
account-local day (sends, and sends per recipient domain), the SET of grant ids
counted that day (so a send job granted twice counts once) and its first sending
day (warm-up day 0). A grant is one call of cmp_grant.lua; the rules (windows,
warm-up, which day it is) are chronoq.campaigns.pacing's, evaluated by the caller
with its own clock: nothing here reads the server's time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import CampaignAccountKeys, Keyspace
from chronoq.redis.scripts import SCRIPTS

DAY_MS = 86_400_000
DAY_KEEP_MS = 8 * DAY_MS  # a day's counters outlive the day by this (a week of usage to read)
FIRST_KEEP_MS = 90 * DAY_MS  # an account idle this long starts its warm-up again


class GrantReply(NamedTuple):
    """The script's answer: status 'granted' (counted now), 'again' (counted
    before), or 'denied' with the cap that refused (`reason`); `sent` is the day's
    sends (or, denied, the count at the cap)."""

    status: str
    reason: str
    sent: int


@dataclass(frozen=True, slots=True)
class AccountUsage:
    """Sends counted for one account per local day and per recipient domain, and
    its first sending day (what chronoq.campaigns.pacing plans around)."""

    first_day: date | None
    days: dict[date, int] = field(default_factory=dict)
    domains: dict[date, dict[str, int]] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


class CampaignSendStore:
    """The counters of every campaign account (`backend.campaign_sends`). Keeps
    each account's first sending day once read (it changes only when it expires,
    which the script reports), so a grant is one round trip."""

    def __init__(self, redis: AsyncRedis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace
        self._first: dict[str, date | None] = {}

    def _account(self, account: str) -> CampaignAccountKeys:
        return self.keys.campaign_account(account)

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
    ) -> GrantReply:
        """Count one send of `account` on its local `day` if the day's cap (`cap`
        of the account's first sending day: the warm-up) and the domain's cap
        allow; the same `grant_id` counts once. `day_end_ms`: the day's end, so its
        counters expire DAY_KEEP_MS after it (times from the caller's clock)."""
        keys = self._account(account)
        iso, before = day.isoformat(), (day - timedelta(days=1)).isoformat()
        lives = max(1, day_end_ms - now_ms + DAY_KEEP_MS)
        for _ in range(3):
            first = self._first.get(account)
            limit = cap(first)
            args = [iso, "" if limit is None else limit, domain,
                    "" if domain_cap is None else domain_cap, grant_id,
                    first.isoformat() if first else "", lives, FIRST_KEEP_MS]  # fmt: skip
            reply = await SCRIPTS.cmp_grant(
                self.redis, [keys.day(iso), keys.ids(iso), keys.meta, keys.ids(before)], args
            )
            status = _text(reply[0])
            if status == "first":
                self._first[account] = _day(_text(reply[1]))
                continue
            if status == "granted" and first is None:
                self._first[account] = day
            if status == "denied":
                return GrantReply(status, _text(reply[1]), int(reply[2]))
            return GrantReply(status, "", int(reply[1]))
        raise RuntimeError(f"the first sending day of account {account!r} keeps changing")

    async def usage(self, account: str, days: Sequence[date]) -> AccountUsage:
        """The account's sends counted on `days` (account-local) and its first
        sending day; days without sends are left out."""
        keys = self._account(account)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.meta, "first")
            for day in days:
                pipe.hgetall(keys.day(day.isoformat()))
            first, *counters = await pipe.execute()
        usage = AccountUsage(_day(_text(first)) if first else None)
        for day, counted in zip(days, counters, strict=True):
            if not counted:
                continue
            fields = {_text(k): int(v) for k, v in counted.items()}
            usage.days[day] = fields.get("n", 0)
            usage.domains[day] = {
                name[2:]: n for name, n in fields.items() if name.startswith("d:")
            }
        self._first[account] = usage.first_day
        return usage
