"""How an app reaches its Redis: the URL (or the embedded server), the connector,
backends, clients, and the locks, once-keys and ledgers built on its connections
(`chronoq.control`). A base of `App`, which holds the state it reads."""

from __future__ import annotations

from functools import cached_property

from chronoq.client import Client, SyncClient
from chronoq.control.coordinator import DEFAULT_ONCE_TTL, Coordinator
from chronoq.control.lease import LostCallback
from chronoq.control.ledger import Ledger
from chronoq.control.locks import Lock
from chronoq.control.sync_locks import SyncLock
from chronoq.core.events import HookRegistry
from chronoq.core.ledger import DEFAULT_LEDGER_TTL
from chronoq.core.rollups import Keep
from chronoq.core.settings import Settings
from chronoq.core.task import TaskRegistry
from chronoq.redis.backend import Backend
from chronoq.redis.connector import ClientConnector, Connector
from chronoq.redis.durability import Durability
from chronoq.redis.keys import Keyspace


class AppConnections:
    """`App`'s connection factories, locks and once-keys (see `App`)."""

    settings: Settings
    registry: TaskRegistry
    hooks: HookRegistry
    _connector: ClientConnector | None

    def redis_url(self) -> str:
        """The configured URL, or the embedded server's (started on first use); for
        an app given a client, the URL of its server (for labels only)."""
        if self._connector is not None:
            return self._connector.url
        if self.settings.redis_url:
            return self.settings.redis_url
        from chronoq.redis.embedded import resolve_redis_url  # noqa: PLC0415

        url: str = resolve_redis_url(self.settings.redis_url, self.settings.data_dir)
        return url

    def connector(self) -> Connector:
        """The connection factory for this app's Redis (its URL, TLS and Sentinel
        settings): every connection the app's processes open is made by one."""
        if self._connector is not None:
            return self._connector
        return Connector.from_settings(self.settings, self.redis_url())

    def backend(self) -> Backend:
        """A backend (connections and stores) for this app's Redis; close it after use."""
        return Backend.from_settings(self.settings, connector=self.connector())

    def client(self) -> Client:
        return Client(
            self.redis_url(),
            prefix=self.settings.prefix,
            registry=self.registry,
            settings=self.settings,
            connector=self.connector(),
            hooks=self.hooks,
        )

    def sync_client(self) -> SyncClient:
        return SyncClient(self.client)

    # -- locks and once-keys (chronoq.control) -----------------------------

    @cached_property
    def coordinator(self) -> Coordinator:
        """Builds this app's locks and owns their connections (shared by all of them)."""
        durability = Durability(self.settings.replica_acks, self.settings.replica_ack_timeout)
        keep = Keep.days(self.settings.metrics_days) if self.settings.metrics else None
        return Coordinator(self.connector, Keyspace(self.settings.prefix), durability, keep)

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
        """A distributed lock for async code: `async with app.lock("name") as lock:`.

        Held for a lease of `ttl` seconds, renewed every ttl/3 while held (unless
        `renew=False`). `timeout`: how long to wait for it (None: as long as it
        takes); `blocking=False`: never wait (LockTimeout at once; or use
        `await lock.try_acquire()`, which returns False). `lock.fence` is a fencing
        token that grows with every acquire of `name`: hand it to what you write
        to. If the lease is lost while held, `lock.lost` turns true, `on_lost(error)`
        is called (it may be async), and the release raises LockLost.

        Sync code (plain `def` tasks, scripts) uses `app.sync_lock`, same arguments:
        two objects rather than one with both protocols, so a coroutine cannot block
        its event loop with `with app.lock(...)` by mistake (that raises TypeError).
        The async locks of one app share a connection pool per event loop.
        """
        return self.coordinator.lock(
            name, ttl=ttl, timeout=timeout, blocking=blocking, renew=renew, on_lost=on_lost
        )

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
        """The lock for sync code, from any thread: `with app.sync_lock("name") as lock:`.

        Like `app.lock`; a background thread renews the lease, and `on_lost` is
        called from that thread.
        """
        return self.coordinator.sync_lock(
            name, ttl=ttl, timeout=timeout, blocking=blocking, renew=renew, on_lost=on_lost
        )

    async def once(self, key: str, *, ttl: float = DEFAULT_ONCE_TTL) -> bool:
        """Claim `key` for `ttl` seconds (one day by default): True the first time,
        False for every later claim until it expires. One SET NX PX.

        For side effects a fencing token cannot protect, because the receiver
        cannot check one (an email, a webhook, a payment request):

        ```
        if await app.once(f"welcome-mail:{user_id}:{run_id}"):
            await send_mail(user_id)
        ```

        At most once: the key is claimed before the effect, so if the effect then
        fails, later claims still return False until the ttl ends. Put what makes
        the effect distinct in the key (recipient, run, attempt if retries should
        resend). Keys: 1-512 characters, no braces.
        """
        return await self.coordinator.once(key, ttl=ttl)

    def ledger(self, name: str, *, ttl: float = DEFAULT_LEDGER_TTL) -> Ledger:
        """A ledger: keyed records of how far a side effect got (`chronoq.Ledger`),
        so a retry can tell "redo it" from "it may have happened". Entries live
        `ttl` seconds (30 days by default) after their last change."""
        return self.coordinator.ledger(name, ttl=ttl)

    def sync_once(self, key: str, *, ttl: float = DEFAULT_ONCE_TTL) -> bool:
        """`once` for sync code."""
        return self.coordinator.sync_once(key, ttl=ttl)
