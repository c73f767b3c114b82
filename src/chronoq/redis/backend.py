"""The backend: the one room that talks to Redis.

A `Backend` owns the connections of one chronoq deployment (one Redis, Cluster or
Sentinel-managed primary, under one key prefix) and hands out the stores that
speak in domain words: the broker (queues and jobs), the inspector (read models),
schedules and limits. Connections are made by one `Connector`; blocking reads get
clients of their own, so a pending BLPOP never delays a command.

```
backend = Backend.from_settings(settings)
await backend.broker.enqueue("mail", jobs)
...
await backend.close()
```

The stores a worker does not use (history, alerts, access, campaigns, operations,
locks, snapshots) load with their first use: a worker's start-up is mostly imports,
and each dataclass a module declares costs its exec'd methods (see bench/RESULTS.md).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from chronoq.core.errors import ConfigurationError
from chronoq.core.rollups import Keep
from chronoq.core.settings import DEFAULT_SYNC_READ_SPIN, Settings
from chronoq.redis.broker import Broker
from chronoq.redis.connector import AsyncRedis, Connector
from chronoq.redis.durability import Durability
from chronoq.redis.finished import FinishedJobs
from chronoq.redis.inspector import Inspector
from chronoq.redis.keys import DEFAULT_PREFIX, Keyspace
from chronoq.redis.limits import LimitStore
from chronoq.redis.liveness import SchedulerLoops
from chronoq.redis.ops import OpsStore
from chronoq.redis.queue_control import QueueControl
from chronoq.redis.registry import RegistryStore
from chronoq.redis.rollups import RollupStore
from chronoq.redis.schedules import ScheduleStore
from chronoq.redis.workflows import WorkflowStore

if TYPE_CHECKING:
    from chronoq.redis.access import AccessStore
    from chronoq.redis.alerts import AlertStore
    from chronoq.redis.campaign_sends import CampaignSendStore
    from chronoq.redis.campaigns import CampaignStore
    from chronoq.redis.history import HistoryStore
    from chronoq.redis.idempotency import IdempotencyStore
    from chronoq.redis.lock_registry import LockRegistry
    from chronoq.redis.operations import OperationStore
    from chronoq.redis.snapshot import SnapshotReader


class Backend:
    def __init__(
        self,
        connector: Connector,
        prefix: str = DEFAULT_PREFIX,
        *,
        replica_acks: int = 0,
        replica_ack_timeout: float = 2.0,
        events_cap: int = 10_000,
        metrics_days: float = 90,
        metrics: bool = True,
        sync_read_spin: float = DEFAULT_SYNC_READ_SPIN,
    ) -> None:
        if replica_acks and connector.is_cluster:
            raise ConfigurationError(
                "replica_acks is not supported on a Redis Cluster: its client cannot send "
                "WAIT on the connection that made the write; unset CHRONOQ_REPLICA_ACKS"
            )
        self.connector = connector
        self.keys = Keyspace(prefix)
        self.durability = Durability(replica_acks, replica_ack_timeout)
        self.redis: AsyncRedis = connector.async_client()
        self.events_cap = events_cap  # each queue's event stream MAXLEN; 0: no events
        self.sync_read_spin = sync_read_spin  # the sync enqueuer's reply polling (spin.py)
        self.broker = Broker(
            self.redis, self.keys, durability=self.durability, events_cap=events_cap
        )
        self.inspector = Inspector(self.redis, self.keys)
        self.metrics_keep = Keep.days(metrics_days)
        # Quotas' use per account per local day (LimitStore), kept as the daily rollups.
        self.quota_use_keep_ms = self.metrics_keep.day_ms if metrics else 0

    @classmethod
    def from_settings(
        cls, settings: Settings, url: str | None = None, *, connector: Connector | None = None
    ) -> Backend:
        """A backend for the settings' URL (or `url`, or a ready `connector`), TLS,
        prefix and durability."""
        return cls(
            connector or Connector.from_settings(settings, url),
            settings.prefix,
            replica_acks=settings.replica_acks,
            replica_ack_timeout=settings.replica_ack_timeout,
            events_cap=settings.events_cap,
            metrics_days=settings.metrics_days,
            metrics=settings.metrics,
            sync_read_spin=settings.sync_read_spin,
        )

    @property
    def is_cluster(self) -> bool:
        return self.connector.is_cluster

    @cached_property
    def history(self) -> HistoryStore:
        """The history's indexes and failure groups (chronoq.observe reads them)."""
        from chronoq.redis.history import HistoryStore

        return HistoryStore(self.redis, self.keys)

    @cached_property
    def alerts(self) -> AlertStore:
        """The alert engine's rules, channels, silences, states and delivery log."""
        from chronoq.redis.alerts import AlertStore

        return AlertStore(self.redis, self.keys)

    @cached_property
    def access(self) -> AccessStore:
        """API tokens and the audit log (the HTTP API, dashboard and CLI write it)."""
        from chronoq.redis.access import AccessStore

        return AccessStore(self.redis, self.keys)

    @cached_property
    def workflows(self) -> WorkflowStore:
        """Workflow records and their step nodes (chronoq.workflows drives them)."""
        return WorkflowStore(self.redis, self.keys)

    @cached_property
    def campaigns(self) -> CampaignStore:
        """Campaign records, runs, recipients, stops and the suppression list
        (chronoq.campaigns drives them)."""
        from chronoq.redis.campaigns import CampaignStore

        return CampaignStore(self.redis, self.keys)

    @cached_property
    def campaign_sends(self) -> CampaignSendStore:
        """Campaign send counters per account (chronoq.campaigns.grant uses them)."""
        from chronoq.redis.campaign_sends import CampaignSendStore

        return CampaignSendStore(self.redis, self.keys)

    @cached_property
    def operations(self) -> OperationStore:
        """Bulk operations' records and per-queue parts (chronoq.bulk runs them)."""
        from chronoq.redis.operations import OperationStore

        return OperationStore(self.redis, self.keys, events_cap=self.events_cap)

    @cached_property
    def finished(self) -> FinishedJobs:
        """Retry or delete one finished job (the API's and CLI's job actions)."""
        return FinishedJobs(self.redis, self.keys, events_cap=self.events_cap)

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        """The HTTP API's replies to requests sent with an Idempotency-Key."""
        from chronoq.redis.idempotency import IdempotencyStore

        return IdempotencyStore(self.redis, self.keys)

    @cached_property
    def rollups(self) -> RollupStore:
        """The metrics rollups (written by workers, read by chronoq.observe.rollups)."""
        return RollupStore(self.redis, self.keys, self.metrics_keep)

    @cached_property
    def ops(self) -> OpsStore:
        """The operations rollups: schedules, limits, locks, worker processes."""
        return OpsStore(self.redis, self.keys.ops, self.metrics_keep)

    @cached_property
    def schedules(self) -> ScheduleStore:
        return ScheduleStore(self.redis, self.keys)

    @cached_property
    def limits(self) -> LimitStore:
        return LimitStore(self.redis, self.keys, use_keep_ms=self.quota_use_keep_ms)

    @cached_property
    def queue_control(self) -> QueueControl:
        """Pause, resume and drain queues (claim.lua honours a pause)."""
        return QueueControl(self.redis, self.keys, events_cap=self.events_cap)

    @cached_property
    def locks(self) -> LockRegistry:
        """The held locks as operators see them, and force release."""
        from chronoq.redis.lock_registry import LockRegistry

        return LockRegistry(self.redis, self.keys)

    @cached_property
    def registry(self) -> RegistryStore:
        return RegistryStore(self.redis, self.keys)

    @cached_property
    def scheduler_loops(self) -> SchedulerLoops:
        return SchedulerLoops(self.redis, self.keys)

    @cached_property
    def snapshots(self) -> SnapshotReader:
        """The observe read models' source (one reader: it remembers what it saw)."""
        from chronoq.redis.snapshot import SnapshotReader

        return SnapshotReader(self.redis, self.keys)

    def blocking_client(self, wait: float) -> AsyncRedis:
        """A client of its own for blocking reads of up to `wait` seconds (the caller
        closes it): a pending BLPOP holds its connection."""
        return self.connector.async_client(blocking_timeout=wait)

    async def open(self) -> None:
        """Connect ahead of the first command where that costs: a Cluster client maps
        the slots and reads the command table on its first command (~15 ms of CPU),
        which would otherwise make the first enqueue that late. As redis-py's own
        `async with RedisCluster(...)`; a single server's pool connects on demand."""
        if self.connector.is_cluster:
            await self.redis.initialize()

    async def close(self) -> None:
        await self.broker.close_lanes()
        await self.redis.aclose()

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
