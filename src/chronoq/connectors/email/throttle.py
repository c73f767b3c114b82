"""The sender's rate: a chronoq rate limit per sender, lowered when the server
throttles and recovering step by step as sends succeed.

Each sender has its own limit (`smtp.<sender>`), declared with `app.limit` so a
worker stores it at start; the send task names it (`rate_limit="smtp.{sender}"`),
so every job waits for its sender's budget in Redis, no attempt spent. A 4xx
reply halves the stored rate through the public limits API (every worker sees it
at once, and a restart keeps it: operators' runtime changes survive), at most once
per `lower_every` seconds per process (workers each cut once); each later
success, at most once per `recover_every` seconds per process, raises it by a
quarter, up to the declared rate.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from chronoq import App, Limit, LimitNotFound

_SENDER = re.compile(r"^[A-Za-z0-9_\-]{1,48}$")


@dataclass(frozen=True)
class Sender:
    """A sending identity: `name` (names its rate limit: letters, digits, '_',
    '-'), the `address` mail comes from, and its nominal `rate` ("60/min")."""

    name: str
    address: str
    rate: str = "60/min"

    def __post_init__(self) -> None:
        if not _SENDER.match(self.name):
            raise ValueError(f"sender name {self.name!r}: use 1-48 letters, digits, '_' or '-'")


def _rate(limit: Limit, count: int) -> str:
    return f"{count}/{limit.period.value}"


class Throttle:
    """Lowers and recovers the stored rate of each sender's limit."""

    def __init__(
        self,
        app: App,
        *,
        prefix: str = "smtp",
        factor: float = 0.5,
        recovery: float = 1.25,
        recover_every: float = 30.0,
        lower_every: float = 10.0,
    ) -> None:
        if not (0 < factor < 1 and recovery > 1 and recover_every >= 0 and lower_every >= 0):
            raise ValueError(
                "factor must be in (0, 1), recovery > 1, recover_every and lower_every >= 0"
            )
        self.app = app
        self.prefix = prefix
        self.factor = factor
        self.recovery = recovery
        self.recover_every = recover_every
        self.lower_every = lower_every
        self._lowered: dict[str, float] = {}  # sender -> monotonic time of the last cut
        self.nominal: dict[str, Limit] = {}
        self._checked: dict[str, float] = {}  # sender -> monotonic time of the last check

    def limit_name(self, sender: str) -> str:
        return f"{self.prefix}.{sender}"

    def declare(self, sender: Sender) -> Limit:
        """Declare the sender's limit on the app (stored when a worker starts)."""
        limit = self.app.limit(self.limit_name(sender.name), sender.rate)
        self.nominal[sender.name] = limit
        return limit

    async def current(self, sender: str) -> Limit:
        """The stored limit (made from the declared one if not stored yet)."""
        async with self.app.limits() as limits:
            try:
                return await limits.get(self.limit_name(sender))
            except LimitNotFound:
                return await limits.set(self.nominal[sender])

    async def lower(self, sender: str) -> Limit | None:
        """Cut the sender's rate by `factor` (at least 1 a period). None when this
        process cut it less than `lower_every` seconds ago: the replies of one
        burst of concurrent sends are one signal, not one cut each."""
        now = time.monotonic()
        if now - self._lowered.get(sender, -math.inf) < self.lower_every:
            return None
        self._lowered[sender] = self._checked[sender] = now  # no recovery right after
        limit = await self.current(sender)
        lowered = max(1, math.floor(limit.limit * self.factor))
        if lowered == limit.limit:
            return limit
        async with self.app.limits() as limits:
            return await limits.update(limit.name, rate=_rate(limit, lowered))

    async def recover(self, sender: str) -> Limit | None:
        """After a success: raise a lowered rate by `recovery`, toward the nominal.
        None when not checked this time (checked recently)."""
        now = time.monotonic()
        if now - self._checked.get(sender, -math.inf) < self.recover_every:
            return None
        self._checked[sender] = now
        nominal = self.nominal[sender]
        limit = await self.current(sender)
        if limit.limit >= nominal.limit or limit.period is not nominal.period:
            return limit
        raised = min(nominal.limit, max(limit.limit + 1, math.floor(limit.limit * self.recovery)))
        async with self.app.limits() as limits:
            return await limits.update(limit.name, rate=_rate(limit, raised))
