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

import asyncio
import collections
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import hiredis
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.cluster
import redis.connection
import redis.sentinel
from redis.backoff import ExponentialBackoff

from chronoq.core.errors import ConfigurationError
from chronoq.core.settings import Settings
from chronoq.redis.urls import Mode, RedisTarget, parse_redis_url

COMMAND_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
BLOCKING_MARGIN = 5.0  # socket timeout beyond a blocking read's own wait
# Connections per client (per node on a Cluster). redis-py's pools raise "Too many
# connections" past 100 at once: a worker running 200 tasks that each take a lock
# would see commands fail. chronoq's pools make a command wait for a free connection
# instead (up to COMMAND_TIMEOUT); a Cluster node, which cannot wait, may open more.
POOL_SIZE = 100
CLUSTER_NODE_POOL_SIZE = 1000

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


_KEY_SLOTS_KEPT = 4096  # key lists remembered (a worker's are a few per queue)
_key_slots: dict[tuple[Any, ...], int] = {}


def fcall_slot(client: Any, args: tuple[Any, ...]) -> int | None:
    """The slot of an FCALL read like EVALSHA's (numkeys, then the keys), or None to
    let redis-py decide. redis-py asks the server (COMMAND GETKEYS, a round trip per
    call) for commands with movable keys such as FCALL; chronoq's functions take
    their keys in the standard place, all in one slot.

    A key list's slot never changes, and a worker sends the same few lists (one per
    script and queue) on every claim and completion: each is checked once and its
    slot remembered (checking a claim's 21 keys was a twentieth of a Cluster worker's
    CPU)."""
    if len(args) < 3 or (args[0] != "FCALL" and str(args[0]).upper() != "FCALL"):
        return None
    count = int(args[2])
    if count < 1:
        return None
    return _remembered_slot(client, f"FCALL {args[1]}", args[3 : 3 + count])


def lane_slot(client: Any, args: tuple[Any, ...]) -> int | None:
    """The slot a lane sends `args` to (`chronoq.redis.lane.ClusterLane`): an FCALL's
    (fcall_slot), or a BLPOP's whose keys (all but the timeout) share one slot, as an
    idle worker's read of one queue's inbox and doorbell does; None for anything else
    (the Cluster client's own path decides)."""
    if not args:
        return None
    if args[0] == "BLPOP":
        keys = args[1:-1]
        return _remembered_slot(client, "BLPOP", keys) if keys else None
    return fcall_slot(client, args)


def _remembered_slot(client: Any, command: str, keys: tuple[Any, ...]) -> int:
    """The one slot of `keys`, checked once per key list and then remembered."""
    slot = _key_slots.get(keys)
    if slot is None:
        slot = _slot_of_keys(client, command, keys)
        if len(_key_slots) >= _KEY_SLOTS_KEPT:
            _key_slots.clear()
        _key_slots[keys] = slot
    return slot


def _slot_of_keys(client: Any, command: str, keys: tuple[Any, ...]) -> int:
    tag = _hash_tag(keys[0])
    if tag is not None and all(_hash_tag(key) == tag for key in keys):
        slot: int = client.keyslot(keys[0])  # one CRC, not one per key (a claim has 21)
        return slot
    slots: set[int] = {client.keyslot(key) for key in keys}
    if len(slots) != 1:
        raise redis.exceptions.RedisClusterException(
            f"{command} keys span slots {sorted(slots)}: every key must share a hash tag"
        )
    return slots.pop()


def _hash_tag(key: Any) -> str | None:
    """The key's hash tag (what Redis Cluster hashes: between the first `{` and the
    next `}`, when not empty), or None for a key without one (or not a str)."""
    if not isinstance(key, str):
        return None
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    return key[start + 1 : end] if end > start + 1 else None


class _AsyncCluster(redis.asyncio.cluster.RedisCluster):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As RedisCluster, with the node connections chronoq's single-server clients
        use (hiredis packing, no Task per send): the nodes make their connections
        lazily, and every node found later is made from these settings."""
        super().__init__(*args, **kwargs)
        fast = _fast_connection_class(self.connection_kwargs["connection_class"])
        self.connection_kwargs["connection_class"] = fast
        self.nodes_manager.connection_kwargs["connection_class"] = fast
        for node in self.nodes_manager.startup_nodes.values():
            node.connection_class = fast

    async def _determine_slot(self, command: str, *args: Any) -> int:
        slot = fcall_slot(self, (command, *args))
        return await super()._determine_slot(command, *args) if slot is None else slot

    def get_node(
        self, host: str | None = None, port: int | None = None, node_name: str | None = None
    ) -> redis.asyncio.cluster.ClusterNode | None:
        """As RedisCluster.get_node; the node hands out the connection released last.

        On an ASK redirection redis-py looks the target up here, sends ASKING through
        it and then the command, each on a connection taken from the node's idle ones.
        It takes the oldest idle one: with two or more idle connections ASKING went out
        on one and the command on another, which the target refused (MOVED back to the
        source), until redis-py gave up with "TTL exhausted" while a slot moved. The
        connection ASKING just used is the one released last, and nothing runs between
        the two (no await), so the command now follows ASKING on its connection."""
        node = super().get_node(host, port, node_name)
        if node is not None and not isinstance(node._free, _LastReleasedFirst):
            node._free = _LastReleasedFirst(node._free, node._free.maxlen)
        return node


class _LastReleasedFirst(collections.deque[Any]):
    """A node's idle connections, taken most recently released first (see get_node)."""

    def popleft(self) -> Any:
        return self.pop()


class _SyncCluster(redis.cluster.RedisCluster):
    def determine_slot(self, *args: Any) -> int | None:
        slot = fcall_slot(self, args)
        if slot is None:
            found: int | None = super().determine_slot(*args)
            return found
        return slot


_PLAIN_ARGS = (str, bytes, int, float)
_PLAIN_TYPES = frozenset(_PLAIN_ARGS)  # exactly these: one set lookup per argument


def _plain(args: tuple[Any, ...]) -> bool:
    """Every argument one hiredis packs as redis-py would (a bool is not one)."""
    if _PLAIN_TYPES.issuperset(map(type, args)):
        return True
    return all(isinstance(a, _PLAIN_ARGS) and not isinstance(a, bool) for a in args)


class _HiredisPacking:
    """Packs commands with hiredis (C) instead of redis-py's Python packer, which
    encodes argument by argument: a worker's claim and complete calls carry hundreds
    of arguments, and packing them was a third of its CPU. Anything unusual (a bool,
    a memoryview, a command name with a space) goes the usual way."""

    def pack_command(self, *args: Any) -> list[bytes]:
        first = args[0] if args else None
        if isinstance(first, str) and " " not in first and _plain(args):
            return [hiredis.pack_command(args)]
        packed: list[bytes] = super().pack_command(*args)  # type: ignore[misc]
        return packed


class _AsyncDirectSend:
    """Sends a command without wrapping the socket write in `asyncio.wait_for`.

    redis-py bounds every async write by its socket timeout with `wait_for`, which on
    Python 3.11 makes a Task and a timer per command: about a sixth of an async
    single enqueue's CPU, and the worker pays it on every claim and completion. A
    write that leaves the transport's buffer empty cannot block, so it needs no
    bound; one that does not (a slow or stalled reader) is bounded as before. Errors
    are reported as redis-py reports them (the connection is closed first)."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        me: Any = self
        if not me.is_connected:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
            return
        if check_health:
            await me.check_health()  # a PING only when its interval has passed
        if isinstance(command, str):
            command = command.encode()
        if isinstance(command, bytes):
            command = [command]
        writer = me._writer
        try:
            writer.writelines(command)
            if me.socket_timeout and writer.transport.get_write_buffer_size():
                await asyncio.wait_for(writer.drain(), me.socket_timeout)
            else:
                await writer.drain()  # nothing waits to be written: returns at once
        except TimeoutError:  # asyncio.TimeoutError is this one (before OSError: a subclass)
            await me.disconnect(nowait=True)
            raise redis.exceptions.TimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await me.disconnect(nowait=True)
            number, text = ("UNKNOWN", exc.args[0]) if len(exc.args) == 1 else exc.args[:2]
            raise redis.exceptions.ConnectionError(
                f"Error {number} while writing to socket. {text}."
            ) from exc
        except BaseException:
            await me.disconnect(nowait=True)
            raise


def _waiting_pool() -> dict[str, Any]:
    """A blocking pool's size and how long a command waits for a free connection."""
    return {"max_connections": POOL_SIZE, "timeout": COMMAND_TIMEOUT}


def _pack_with_hiredis(client: Any) -> None:
    """Make the client's pool build connections that pack with hiredis (before its
    first connection: pools create connections lazily), and, async ones, send
    without a Task per command."""
    pool = client.connection_pool
    pool.connection_class = _fast_connection_class(pool.connection_class)


_FAST_CLASSES: dict[type, type] = {}


def _fast_connection_class(base: type) -> type:
    """`base` with hiredis packing (and, async, the direct send); one class per base."""
    if issubclass(base, _HiredisPacking):
        return base
    fast = _FAST_CLASSES.get(base)
    if fast is None:
        mixins: tuple[type, ...] = (_HiredisPacking,)
        if issubclass(base, redis.asyncio.connection.AbstractConnection):
            mixins = (_HiredisPacking, _AsyncDirectSend)
        fast = _FAST_CLASSES[base] = type(f"Hiredis{base.__name__}", (*mixins, base), {})
    return fast


def short_retry() -> redis.asyncio.retry.Retry:
    """A brief retry for a dropped connection (about 0.15 s in all).

    redis-py retries with backoff up to seconds by default, which turns an
    unreachable server into a long hang; chronoq's loops have their own, longer
    patience (`chronoq.worker.resilience`), so the client only smooths over a blip.
    """
    return redis.asyncio.retry.Retry(ExponentialBackoff(cap=0.1, base=0.025), 2)


def short_sync_retry() -> redis.retry.Retry:
    return redis.retry.Retry(ExponentialBackoff(cap=0.1, base=0.025), 2)


class _AsyncSentinelPool(
    redis.asyncio.sentinel.SentinelConnectionPool, redis.asyncio.BlockingConnectionPool
):
    """A Sentinel-managed pool whose close also closes its sentinel connections:
    redis-py leaves those open when the client closes (one leaked socket per
    sentinel asked, per client). Past POOL_SIZE commands at once, one waits for a
    free connection (BlockingConnectionPool) instead of failing."""

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:  # a close; a primary change disconnects only idle ones
            for sentinel in self.sentinel_manager.sentinels:
                await sentinel.connection_pool.disconnect()


class _SyncSentinelPool(redis.sentinel.SentinelConnectionPool, redis.BlockingConnectionPool):
    """The same for blocking clients."""

    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        if inuse_connections:
            for sentinel in self.sentinel_manager.sentinels:
                sentinel.connection_pool.disconnect()


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
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                target.url, retry=short_retry(), **_waiting_pool(), **options
            )
            client = AsyncRedis.from_pool(pool)
            _pack_with_hiredis(client)
            return client
        if target.mode is Mode.CLUSTER:
            nodes = [redis.asyncio.cluster.ClusterNode(n.host, n.port) for n in target.nodes]
            cluster = _AsyncCluster(
                startup_nodes=nodes,
                # A MOVED reply patches the slot map only. By default every 5th MOVED
                # closes every connection of the shared client, in-flight commands of
                # other tasks included: they fail or are resent after they already ran
                # (a claim twice, a task's write twice); a reshard or the first
                # commands of a fresh client send MOVED in bursts.
                reinitialize_steps=0,
                max_connections=CLUSTER_NODE_POOL_SIZE,
                **self._node_auth(),
                **options,
            )
            return cast(AsyncRedis, cluster)
        sentinel = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
            [(n.host, n.port) for n in target.nodes],
            sentinel_kwargs=self._sentinel_kwargs(),
        )
        client = sentinel.master_for(
            target.service or "",
            connection_pool_class=_AsyncSentinelPool,
            retry=short_retry(),
            db=target.db,
            **_waiting_pool(),
            **self._node_auth(),
            **options,
        )
        _pack_with_hiredis(client)
        return cast(AsyncRedis, client)

    # -- sync --------------------------------------------------------------

    def sync_client(self, *, socket_timeout: float = COMMAND_TIMEOUT) -> SyncRedis:
        """A blocking (threaded) client with the same settings."""
        options = self._options(None)
        options["socket_timeout"] = socket_timeout
        target = self.target
        if target.mode is Mode.SINGLE:
            pool = redis.BlockingConnectionPool.from_url(
                target.url, retry=short_sync_retry(), **_waiting_pool(), **options
            )
            return SyncRedis.from_pool(pool)
        if target.mode is Mode.CLUSTER:
            nodes = [redis.cluster.ClusterNode(n.host, n.port) for n in target.nodes]  # type: ignore[no-untyped-call]
            options.pop("health_check_interval", None)
            cluster = _SyncCluster(
                startup_nodes=nodes,
                reinitialize_steps=0,  # as the async client: a MOVED patches the slot map
                max_connections=CLUSTER_NODE_POOL_SIZE,
                **self._node_auth(),
                **options,
            )
            return cast(SyncRedis, cluster)
        sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
            [(n.host, n.port) for n in target.nodes], sentinel_kwargs=self._sentinel_kwargs()
        )
        return sentinel.master_for(  # type: ignore[no-any-return, no-untyped-call, unused-ignore]
            target.service or "",
            connection_pool_class=_SyncSentinelPool,
            retry=short_sync_retry(),
            db=target.db,
            **_waiting_pool(),
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


# -- a client passed in from Python -----------------------------------------

# The connection settings that mean the same to async and sync connections; the
# rest of a pool's keyword arguments are redis-py internals bound to that pool.
_PORTABLE = (
    "host", "port", "path", "db", "username", "password", "credential_provider",
    "client_name", "socket_keepalive", "encoding", "encoding_errors", "protocol",
    "ssl_keyfile", "ssl_certfile", "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_data",
    "ssl_ca_path", "ssl_check_hostname", "ssl_min_version", "ssl_ciphers", "ssl_password",
)  # fmt: skip
_aio = redis.asyncio.connection
_SYNC_CONNECTION = {
    _aio.Connection: redis.connection.Connection,
    _aio.SSLConnection: redis.connection.SSLConnection,
    _aio.UnixDomainSocketConnection: redis.connection.UnixDomainSocketConnection,
}


class ClientConnector(Connector):
    """Clients made with the settings of one a program passed in (`App(redis=...)`):
    its address, credentials or credential provider, and TLS files. chronoq opens
    connections of its own with them (its blocking reads, timeouts and decoding
    need their own) and never closes the program's client.

    A plain `redis.asyncio.Redis` only: a Cluster or Sentinel deployment is given
    by URL (`redis+cluster://`, `redis+sentinel://`), which every process can share.
    """

    def __init__(self, client: Any) -> None:
        pool = getattr(client, "connection_pool", None)
        base = getattr(pool, "connection_class", None)
        if type(pool) is not redis.asyncio.ConnectionPool or base not in _SYNC_CONNECTION:
            raise ConfigurationError(
                f"App(redis=...) takes a redis.asyncio.Redis for one server, got "
                f"{type(client).__name__}; give a Cluster or Sentinel as a URL instead "
                "(redis+cluster://..., redis+sentinel://...)"
            )
        assert pool is not None and base is not None
        kwargs = pool.connection_kwargs
        self._base = base
        self._settings = {k: kwargs[k] for k in _PORTABLE if kwargs.get(k) is not None}
        super().__init__(_url_of(base, kwargs))

    def async_client(self, *, blocking_timeout: float | None = None) -> AsyncRedis:
        options = self._options(blocking_timeout)
        pool = redis.asyncio.ConnectionPool(
            connection_class=self._base, retry=short_retry(), **{**options, **self._settings}
        )
        client = AsyncRedis.from_pool(pool)
        _pack_with_hiredis(client)
        return client

    def sync_client(self, *, socket_timeout: float = COMMAND_TIMEOUT) -> SyncRedis:
        options = self._options(None)
        options["socket_timeout"] = socket_timeout
        pool = redis.ConnectionPool(
            connection_class=_SYNC_CONNECTION[self._base],
            retry=short_sync_retry(),
            **{**options, **self._settings},
        )
        return SyncRedis.from_pool(pool)


def _url_of(base: type, kwargs: dict[str, Any]) -> str:
    """A URL naming the server (for logs and labels; no password in it)."""
    db = kwargs.get("db", 0)
    if base is _aio.UnixDomainSocketConnection:
        return f"unix://{kwargs.get('path', '')}?db={db}"
    scheme = "rediss" if base is _aio.SSLConnection else "redis"
    return f"{scheme}://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"
