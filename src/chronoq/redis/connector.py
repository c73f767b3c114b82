"""The one connection factory: every Redis client chronoq opens is made here.

One URL (see `chronoq.redis.urls`) plus the TLS and Sentinel settings describe
where Redis is; `Connector` turns them into clients of the right kind: a plain
client, a Cluster client that follows MOVED/ASK, or a Sentinel-managed client that
follows a failover to the promoted replica. Async and sync clients, command and
blocking ones, all get the same credentials, TLS options, timeouts and retry, so
the worker, the scheduler, the CLI and the sync client behave alike.

The Cluster client speaks the same command API as the plain one; it is typed as
the plain client for the commands both share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from redis.backoff import ExponentialBackoff

from chronoq.core.settings import Settings
from chronoq.redis.urls import Mode, RedisTarget, parse_redis_url

COMMAND_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
BLOCKING_MARGIN = 5.0  # socket timeout beyond a blocking read's own wait

AsyncRedis = redis.asyncio.Redis
SyncRedis = redis.Redis


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """Files and checks for TLS connections (rediss:// and the +TLS schemes)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    check_hostname: bool = True

    def kwargs(self) -> dict[str, Any]:
        """redis-py's ssl_* keyword arguments for these options."""
        found: dict[str, Any] = {"ssl_check_hostname": self.check_hostname}
        if self.ca_file is not None:
            found["ssl_ca_certs"] = str(self.ca_file)
        if self.cert_file is not None:
            found["ssl_certfile"] = str(self.cert_file)
        if self.key_file is not None:
            found["ssl_keyfile"] = str(self.key_file)
        return found


def short_retry() -> redis.asyncio.retry.Retry:
    """A brief retry for a dropped connection (about 0.15 s in all).

    redis-py retries with backoff up to seconds by default, which turns an
    unreachable server into a long hang; chronoq's loops have their own, longer
    patience (`chronoq.worker.resilience`), so the client only smooths over a blip.
    """
    return redis.asyncio.retry.Retry(ExponentialBackoff(cap=0.1, base=0.025), 2)


def short_sync_retry() -> redis.retry.Retry:
    return redis.retry.Retry(ExponentialBackoff(cap=0.1, base=0.025), 2)


class Connector:
    """Makes clients for one Redis deployment. Cheap to build; connects lazily."""

    def __init__(
        self,
        url: str,
        *,
        tls: TlsOptions | None = None,
        sentinel_username: str | None = None,
        sentinel_password: str | None = None,
    ) -> None:
        self.target: RedisTarget = parse_redis_url(url)
        self.tls = tls or TlsOptions()
        self._sentinel_auth = (
            sentinel_username or self.target.username,
            sentinel_password or self.target.password,
        )

    @classmethod
    def from_settings(cls, settings: Settings, url: str | None = None) -> Connector:
        """A connector for `url` (default: the settings' URL) with the settings' TLS
        and Sentinel options."""
        chosen = url or settings.redis_url
        if not chosen:
            raise ValueError("no Redis URL: resolve the embedded server's first")
        tls = TlsOptions(
            ca_file=settings.tls_ca_file,
            cert_file=settings.tls_cert_file,
            key_file=settings.tls_key_file,
            check_hostname=settings.tls_check_hostname,
        )
        return cls(
            chosen,
            tls=tls,
            sentinel_username=settings.sentinel_username,
            sentinel_password=settings.sentinel_password,
        )

    @property
    def url(self) -> str:
        return self.target.url

    @property
    def mode(self) -> Mode:
        return self.target.mode

    @property
    def is_cluster(self) -> bool:
        return self.target.mode is Mode.CLUSTER

    @property
    def where(self) -> str:
        return self.target.where

    # -- async -------------------------------------------------------------

    def async_client(self, *, blocking_timeout: float | None = None) -> AsyncRedis:
        """An async client. `blocking_timeout` sizes the socket timeout for a client
        that runs blocking reads (BLPOP, pub/sub waits) of up to that many seconds."""
        options = self._options(blocking_timeout)
        target = self.target
        if target.mode is Mode.SINGLE:
            return AsyncRedis.from_url(target.url, retry=short_retry(), **options)
        if target.mode is Mode.CLUSTER:
            nodes = [redis.asyncio.cluster.ClusterNode(n.host, n.port) for n in target.nodes]
            cluster = redis.asyncio.cluster.RedisCluster(
                startup_nodes=nodes,
                # A MOVED reply patches the slot map only. By default every 5th MOVED
                # closes every connection of the shared client, in-flight commands of
                # other tasks included: they fail or are resent after they already ran
                # (a claim twice, a task's write twice); a reshard or the first
                # commands of a fresh client send MOVED in bursts.
                reinitialize_steps=0,
                **self._node_auth(),
                **options,
            )
            return cast(AsyncRedis, cluster)
        sentinel = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]
            [(n.host, n.port) for n in target.nodes],
            sentinel_kwargs=self._sentinel_kwargs(),
        )
        return cast(
            AsyncRedis,
            sentinel.master_for(
                target.service or "",
                retry=short_retry(),
                db=target.db,
                **self._node_auth(),
                **options,
            ),
        )

    # -- sync --------------------------------------------------------------

    def sync_client(self, *, socket_timeout: float = COMMAND_TIMEOUT) -> SyncRedis:
        """A blocking (threaded) client with the same settings."""
        options = self._options(None)
        options["socket_timeout"] = socket_timeout
        target = self.target
        if target.mode is Mode.SINGLE:
            return SyncRedis.from_url(target.url, retry=short_sync_retry(), **options)
        if target.mode is Mode.CLUSTER:
            nodes = [redis.cluster.ClusterNode(n.host, n.port) for n in target.nodes]  # type: ignore[no-untyped-call]
            options.pop("health_check_interval", None)
            cluster = redis.cluster.RedisCluster(
                startup_nodes=nodes, **self._node_auth(), **options
            )
            return cast(SyncRedis, cluster)
        sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
            [(n.host, n.port) for n in target.nodes], sentinel_kwargs=self._sentinel_kwargs()
        )
        return sentinel.master_for(  # type: ignore[no-any-return,no-untyped-call]
            target.service or "",
            retry=short_sync_retry(),
            db=target.db,
            **self._node_auth(),
            **options,
        )

    def sync_pool(self) -> redis.ConnectionPool | None:
        """A sync connection pool to the one primary (single server or Sentinel), for
        callers that drive a raw connection; None on a Cluster (no one primary)."""
        if self.is_cluster:
            return None
        return self.sync_client().connection_pool

    # -- options -----------------------------------------------------------

    def _options(self, blocking_timeout: float | None) -> dict[str, Any]:
        timeout = (
            COMMAND_TIMEOUT if blocking_timeout is None else blocking_timeout + BLOCKING_MARGIN
        )
        options: dict[str, Any] = {
            "decode_responses": True,
            "socket_timeout": timeout,
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "health_check_interval": 30,
        }
        if self.target.tls:
            options.update(self.tls.kwargs())
            if self.target.mode is not Mode.SINGLE:
                options["ssl"] = True
        return options

    def _node_auth(self) -> dict[str, Any]:
        if self.target.mode is Mode.SINGLE:
            return {}  # in the URL, which redis-py reads itself
        return {"username": self.target.username, "password": self.target.password}

    def _sentinel_kwargs(self) -> dict[str, Any]:
        username, password = self._sentinel_auth
        found: dict[str, Any] = {
            "socket_timeout": COMMAND_TIMEOUT,
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "username": username,
            "password": password,
            "decode_responses": True,
        }
        if self.target.tls:
            found["ssl"] = True
            found.update(self.tls.kwargs())
        return found
