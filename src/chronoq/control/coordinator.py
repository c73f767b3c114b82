"""An app's locks and once-keys: builds them and owns their connections.

`App.lock`, `App.sync_lock`, `App.once` and `App.sync_once` delegate here; the app
keeps one Coordinator, so every lock of the app shares its connection pools.
"""

from __future__ import annotations

from collections.abc import Callable

from chronoq.control.lease import LockOptions, LostCallback
from chronoq.control.ledger import Ledger
from chronoq.control.locks import Lock
from chronoq.control.sync_locks import SyncLock
from chronoq.core.errors import ConfigurationError
from chronoq.core.ledger import DEFAULT_LEDGER_TTL
from chronoq.core.rollups import Keep
from chronoq.redis.connector import Connector
from chronoq.redis.durability import Durability
from chronoq.redis.keys import Keyspace
from chronoq.redis.locks import LoopLockClients, SyncLockClients

DEFAULT_ONCE_TTL = 86400.0  # like a job's idempotency key: one day


class Coordinator:
    def __init__(
        self,
        connector: Callable[[], Connector],
        keys: Keyspace,
        durability: Durability | None = None,
        keep: Keep | None = None,
    ) -> None:
        """`keep`: how long lock contention and losses are kept in the operations
        rollups; None counts nothing (`CHRONOQ_METRICS=0`)."""
        self.keys = keys
        durability = durability or Durability()
        self._async = LoopLockClients(connector, durability, keep)
        self._sync = SyncLockClients(connector, durability, keep)

    def lock(
        self,
        name: str,
        *,
        ttl: float = 30.0,
        timeout: float | None = None,
        blocking: bool = True,
        renew: bool = True,
        on_lost: LostCallback | None = None,
    ) -> Lock:
        options = LockOptions(ttl=ttl, timeout=timeout, blocking=blocking, renew=renew)
        return Lock(self._async, self.keys.lock(name), options, on_lost)

    def sync_lock(
        self,
        name: str,
        *,
        ttl: float = 30.0,
        timeout: float | None = None,
        blocking: bool = True,
        renew: bool = True,
        on_lost: LostCallback | None = None,
    ) -> SyncLock:
        options = LockOptions(ttl=ttl, timeout=timeout, blocking=blocking, renew=renew)
        return SyncLock(self._sync, self.keys.lock(name), options, on_lost)

    async def once(self, key: str, *, ttl: float = DEFAULT_ONCE_TTL) -> bool:
        """True the first time `key` is claimed within `ttl` seconds (SET NX PX)."""
        name, ttl_ms = self._once_key(key, ttl)
        clients = await self._async.get()
        return await clients.claim_once(name, ttl_ms)

    def sync_once(self, key: str, *, ttl: float = DEFAULT_ONCE_TTL) -> bool:
        name, ttl_ms = self._once_key(key, ttl)
        return self._sync.claim_once(name, ttl_ms)

    def ledger(self, name: str, *, ttl: float = DEFAULT_LEDGER_TTL) -> Ledger:
        """A named ledger sharing the locks' connections."""
        return Ledger(self._async, self.keys, name, ttl)

    def _once_key(self, key: str, ttl: float) -> tuple[str, int]:
        if not ttl > 0:
            raise ConfigurationError(f"once ttl must be > 0 seconds, got {ttl}")
        return self.keys.once(key), max(1, int(ttl * 1000))

    def close_sync(self) -> None:
        """Close the sync locks' connections (the async ones close with their loop)."""
        self._sync.close()
