"""Rate limits and quotas managed from Python: `app.limits()`, `app.quotas()`."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from chronoq.core.errors import ConfigurationError, LimitNotFound
from chronoq.core.limits import Kind, Limit, LimitChanges, WindowsSpec, quota, rate_limit
from chronoq.manage.base import A, Opened, SyncFacade
from chronoq.redis.limit_state import LimitState, hot_keys, live_state
from chronoq.redis.limits import KeyUsage, LimitStore


class _LimitManager(Opened):
    kind: Kind

    @property
    def store(self) -> LimitStore:
        return self.client.backend.limits

    async def get(self, name: str) -> Limit:
        limit = await self.store.get(name)
        if limit.kind is not self.kind:
            raise LimitNotFound(f"{name!r} is a {limit.kind.value} limit, not a {self.kind.value}")
        return limit

    async def list(self) -> builtins.list[Limit]:
        return [limit for limit in await self.store.all() if limit.kind is self.kind]

    async def remove(self, name: str) -> None:
        """Forget it: jobs naming it run unlimited from now on (LimitNotFound if none)."""
        await self.get(name)
        await self.store.remove(name)

    async def usage(self, name: str, keys: Iterable[str] | None = None) -> builtins.list[KeyUsage]:
        """Per key (default: recently used keys): use now, utilization, next start."""
        await self.get(name)
        return await self.store.usage(name, keys)

    async def state(self, name: str, *, top: int = 5) -> LimitState:
        """The limit now: cap, window, use and utilization of its recent keys, tokens
        left (rate limits), and its `top` hot keys."""
        await self.get(name)
        return await live_state(self.store, name, top=top)

    async def hot_keys(self, name: str, top: int = 10) -> builtins.list[KeyUsage]:
        """The keys using the most of the limit in the current period (bounded: read
        from its most recently used keys)."""
        await self.get(name)
        return await hot_keys(self.store, name, top)


class Limits(_LimitManager):
    """Rate limits stored in Redis. A change applies at once; jobs a limit deferred
    are decided again."""

    kind = Kind.RATE

    async def set(
        self,
        name: str | Limit,
        rate: str | None = None,
        *,
        burst: int = 0,
        min_gap: float = 0.0,
        windows: WindowsSpec = (),
        tz: str | None = None,
    ) -> Limit:
        """Create or replace a rate limit (arguments as in `app.limit`, or a whole
        `Limit`)."""
        if isinstance(name, Limit):
            limit = name
        elif rate is None:
            raise ConfigurationError(f"limit {name!r} needs a rate, like '600/min'")
        else:
            limit = rate_limit(
                name, rate, burst=burst, min_gap=min_gap, windows=windows, tz=tz or self.timezone
            )
        await self.store.set(limit)
        return limit

    async def update(self, name: str, **changes: Any) -> Limit:
        """Change some settings (rate, burst, min_gap, windows, tz); the rest stay."""
        try:
            wanted = LimitChanges(**changes)
        except TypeError:
            allowed = "rate, burst, min_gap, windows, tz"
            raise ConfigurationError(
                f"a limit's changes are among {allowed}; got {sorted(changes)}"
            ) from None
        limit = wanted.apply(await self.get(name))
        await self.store.set(limit)
        return limit


class Quotas(_LimitManager):
    """Quotas stored in Redis: runs per account per local day or hour."""

    kind = Kind.QUOTA

    async def set(self, name: str, limit: int, *, per: str = "day", tz: str | None = None) -> Limit:
        """Create or replace a quota (arguments as in `app.quota`)."""
        made = quota(name, limit, per=per, tz=tz or self.timezone)
        await self.store.set(made)
        return made

    async def set_account_zone(self, account: str, tz: str) -> None:
        """The zone an account's quotas count their days and hours in."""
        await self.store.set_account_zone(account, tz)

    async def account_zones(self, accounts: Iterable[str]) -> dict[str, str]:
        return await self.store.account_zones(accounts)


class _SyncLimitFacade(SyncFacade[A]):
    def get(self, name: str) -> Limit:
        return self._run(self._manager.get(name))

    def list(self) -> builtins.list[Limit]:
        return self._run(self._manager.list())

    def remove(self, name: str) -> None:
        self._run(self._manager.remove(name))

    def usage(self, name: str, keys: Iterable[str] | None = None) -> builtins.list[KeyUsage]:
        return self._run(self._manager.usage(name, keys))

    def state(self, name: str, *, top: int = 5) -> LimitState:
        return self._run(self._manager.state(name, top=top))

    def hot_keys(self, name: str, top: int = 10) -> builtins.list[KeyUsage]:
        return self._run(self._manager.hot_keys(name, top))

    @property
    def _manager(self) -> _LimitManager:
        manager = self._async
        assert isinstance(manager, _LimitManager)
        return manager


class SyncLimits(_SyncLimitFacade[Limits]):
    """`with app.limits() as limits:` the same operations, blocking."""

    def set(self, name: str | Limit, rate: str | None = None, **options: Any) -> Limit:
        """See `Limits.set` for the options."""
        return self._run(self._async.set(name, rate, **options))

    def update(self, name: str, **changes: Any) -> Limit:
        return self._run(self._async.update(name, **changes))


class SyncQuotas(_SyncLimitFacade[Quotas]):
    """`with app.quotas() as quotas:` the same operations, blocking."""

    def set(self, name: str, limit: int, *, per: str = "day", tz: str | None = None) -> Limit:
        return self._run(self._async.set(name, limit, per=per, tz=tz))

    def set_account_zone(self, account: str, tz: str) -> None:
        self._run(self._async.set_account_zone(account, tz))

    def account_zones(self, accounts: Iterable[str]) -> dict[str, str]:
        return self._run(self._async.account_zones(accounts))
