"""Enqueue over a blocking connection: the sync client's fast path.

A sync caller would otherwise pay a hop to an event-loop thread per job; this
speaks to Redis directly with the same script and the same packing as the broker.
It drives one dedicated connection itself (under a lock, so threads may share the
client): redis-py's per-command machinery (pool checkout, retry wrapper, metrics
attributes) costs more than the round trip on a local server, and single enqueues
are judged by round-trip cost. The connection comes from the connector's pool, so
a Sentinel-managed primary is found (and followed after a failover) as usual, and
TLS, AUTH and the handshake are redis-py's; once connected, commands go straight to
its socket and replies are read with a hiredis reader of our own (`_Wire`), which
drops about 3 us of wrapper code from each exchange, after polling the socket for a
moment (spin.py: a blocked reader's idle vCPU costs more to wake than the exchange).
A Cluster has no one primary, so there enqueues go through the Cluster client.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import hiredis
import redis
from redis.connection import ConnectionInterface
from redis.exceptions import ReadOnlyError, ResponseError
from redis.sentinel import SentinelManagedConnection

from chronoq.core.claims import Enqueued, Placement
from chronoq.core.errors import NotReplicated
from chronoq.core.job import JobSpec
from chronoq.core.settings import DEFAULT_SYNC_READ_SPIN
from chronoq.redis.broker import BATCH_LIMIT
from chronoq.redis.connector import Connector
from chronoq.redis.durability import Durability
from chronoq.redis.errors import error_reply
from chronoq.redis.job_wire import enqueue_command, parse_enqueued
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import LIB, missing_library
from chronoq.redis.spin import SpinReader

_RETRIES = 2  # on a dropped connection; safe: enqueue.lua skips ids that exist
_READ_SIZE = 65_536
Command = tuple[str | int | float, ...]


class _Wire:
    """A connected redis-py connection's socket, spoken to directly: packed commands
    out, replies in through our own hiredis reader (decoding as the connection does,
    error replies made into the driver's exception classes). Socket failures raise
    redis-py's ConnectionError / TimeoutError; the caller then drops the connection.

    As redis-py's Sentinel connection does, a READONLY reply on a connection to a
    Sentinel-managed primary means that primary was demoted while the connection
    stayed open: it is raised as a ConnectionError, so the caller reconnects, which
    asks the sentinels for the new primary."""

    def __init__(self, conn: ConnectionInterface, spin: float = DEFAULT_SYNC_READ_SPIN) -> None:
        sock = getattr(conn, "_sock", None)
        if not isinstance(sock, socket.socket):
            raise redis.ConnectionError("the connection has no socket")
        self.conn = conn
        self._sock = sock
        pool = getattr(conn, "connection_pool", None)
        self._follows_primary = isinstance(conn, SentinelManagedConnection) and bool(
            getattr(pool, "is_master", False)
        )
        encoder = getattr(conn, "encoder", None)
        decoding: dict[str, Any] = {}
        if encoder is not None and encoder.decode_responses:
            decoding = {"encoding": encoder.encoding, "errors": encoder.encoding_errors}
        self._reader = hiredis.Reader(replyError=error_reply, **decoding)
        self._buffer = bytearray(_READ_SIZE)
        self._spin = SpinReader(sock, spin)

    def send(self, packed: bytes) -> None:
        try:
            self._sock.sendall(packed)
        except TimeoutError as exc:  # socket.timeout
            raise redis.TimeoutError("Timeout writing to socket") from exc
        except OSError as exc:
            raise redis.ConnectionError(f"Error while writing to socket: {exc}") from exc

    def read(self) -> Any:
        """The next reply; an error reply is returned as its exception, not raised
        (the caller decides once every reply it waits for is read)."""
        reader = self._reader
        reply = reader.gets()
        while reply is False:
            try:
                count = self._spin.poll_into(self._buffer)
                if count is None:
                    count = self._sock.recv_into(self._buffer)
            except TimeoutError as exc:
                raise redis.TimeoutError("Timeout reading from socket") from exc
            except OSError as exc:
                raise redis.ConnectionError(f"Error while reading from socket: {exc}") from exc
            if count == 0:
                raise redis.ConnectionError("Connection closed by server.")
            reader.feed(self._buffer, 0, count)  # type: ignore[arg-type]  # any buffer
            reply = reader.gets()
        return reply

    def call(self, packed: bytes) -> Any:
        self.send(packed)
        reply = self.read()
        if isinstance(reply, Exception):
            raise self.error(reply)
        return reply

    def error(self, reply: Exception) -> Exception:
        """The exception to raise for an error reply."""
        if self._follows_primary and isinstance(reply, ReadOnlyError):
            error = redis.ConnectionError("The previous master is now a slave")
            error.__cause__ = reply
            return error
        return reply


class SyncEnqueuer:
    def __init__(
        self,
        connector: Connector,
        keyspace: Keyspace,
        durability: Durability | None = None,
        events_cap: int = 10_000,
        spin: float = DEFAULT_SYNC_READ_SPIN,
    ) -> None:
        self._connector = connector
        self._spin = spin  # s a reply is polled for before the read blocks (spin.py)
        self._pool = connector.sync_pool()
        self._cluster: redis.Redis | None = None if self._pool else connector.sync_client()
        self._wire: _Wire | None = None
        self._lock = threading.Lock()
        self.keys = keyspace
        self._durability = durability or Durability()
        self._events_cap = events_cap
        self._registered: set[str] = set()

    def enqueue(self, queue: str, jobs: Sequence[tuple[JobSpec, Placement]]) -> list[Enqueued]:
        q = self.keys.queue(queue)
        if self._cluster is not None:
            return self._enqueue_cluster(self._cluster, queue, jobs)
        if queue not in self._registered:
            self._send([("SADD", self.keys.queues, queue)])
            self._registered.add(queue)
        waits = self._durability.waits
        wait: Command = ("WAIT", self._durability.replicas, int(self._durability.timeout * 1000))

        def batches() -> Iterator[Command]:
            for start in range(0, len(jobs), BATCH_LIMIT):
                script, keys, args = enqueue_command(
                    q, jobs[start : start + BATCH_LIMIT], self._events_cap
                )
                yield script.command(keys, args)
                if waits:
                    yield wait

        try:
            replies = self._send(batches())
        except ResponseError as exc:  # a fresh server: load, then resend (ids dedupe)
            if not missing_library(exc):
                raise
            self._send([("FUNCTION", "LOAD", "REPLACE", LIB.code)])
            replies = self._send(batches())
        if waits:
            self._check_acks(replies[1::2], len(jobs))
            replies = replies[0::2]
        return [job for reply in replies for job in parse_enqueued(reply)]

    def enqueue_one(self, queue: str, spec: JobSpec, place: Placement) -> Enqueued:
        """One job as one command, packed and exchanged without the batch machinery
        (a single enqueue is judged by its client CPU and round trip)."""
        if self._cluster is not None or self._durability.waits or queue not in self._registered:
            (job,) = self.enqueue(queue, [(spec, place)])
            return job
        script, keys, args = enqueue_command(
            self.keys.queue(queue), [(spec, place)], self._events_cap
        )
        packed = hiredis.pack_command(script.command(keys, args))  # type: ignore[arg-type]
        try:
            reply = self._call(packed)
        except ResponseError as exc:  # a fresh server: load, then resend (ids dedupe)
            if not missing_library(exc):
                raise
            self._send([("FUNCTION", "LOAD", "REPLACE", LIB.code)])
            reply = self._call(packed)
        (job,) = parse_enqueued(reply)
        return job

    def _call(self, packed: bytes) -> Any:
        """One packed command, its one reply; retried on a dropped connection. An error
        reply is read whole, so the connection stays usable."""
        with self._lock:
            for attempt in range(_RETRIES + 1):
                wire = self._connection()
                try:
                    return wire.call(packed)
                except (redis.ConnectionError, redis.TimeoutError):
                    self._drop(wire)
                    if attempt == _RETRIES:
                        raise
        raise AssertionError("unreachable")

    def _check_acks(self, acks: list[Any], count: int) -> None:
        wanted = self._durability.replicas
        acked = min((int(a) for a in acks), default=wanted)
        if acked < wanted:
            raise NotReplicated(
                f"enqueue of {count} job(s) reached the primary but {acked} of {wanted} "
                f"replica(s) confirmed it within {self._durability.timeout:g}s; a failover "
                "now could lose it (safe to retry)",
                acked=acked,
                wanted=wanted,
            )

    def _enqueue_cluster(
        self, client: redis.Redis, queue: str, jobs: Sequence[tuple[JobSpec, Placement]]
    ) -> list[Enqueued]:
        """On a Cluster: the Cluster client finds the queue's node (and follows MOVED)."""
        q = self.keys.queue(queue)
        with self._lock:
            if queue not in self._registered:
                client.sadd(self.keys.queues, queue)
                self._registered.add(queue)
            out: list[Enqueued] = []
            for start in range(0, len(jobs), BATCH_LIMIT):
                script, keys, args = enqueue_command(
                    q, jobs[start : start + BATCH_LIMIT], self._events_cap
                )
                out.extend(parse_enqueued(script.call_sync(client, keys, args)))
            return out

    def _send(self, commands: Iterable[Command]) -> list[Any]:
        """Send commands back to back, then read every reply: Redis runs one batch
        while the next is being packed. Retried whole on a dropped connection."""
        source = iter(commands)
        made: list[Command] = []

        def replay() -> Iterator[Command]:  # a retry resends what the first try built
            yield from made
            for command in source:
                made.append(command)
                yield command

        with self._lock:
            for attempt in range(_RETRIES + 1):
                wire = self._connection()
                try:
                    return self._exchange(wire, replay())
                except (redis.ConnectionError, redis.TimeoutError):
                    self._drop(wire)
                    if attempt == _RETRIES:
                        raise
        raise AssertionError("unreachable")

    @staticmethod
    def _exchange(wire: _Wire, commands: Iterable[Command]) -> list[Any]:
        """Every reply is read before the first error among them is raised, so the
        connection stays in step (and usable) after an error reply."""
        sent = 0
        for command in commands:
            wire.send(hiredis.pack_command(command))  # type: ignore[arg-type]  # native
            sent += 1
        replies = [wire.read() for _ in range(sent)]
        for reply in replies:
            if isinstance(reply, Exception):
                raise wire.error(reply)
        return replies

    def _drop(self, wire: _Wire) -> None:
        wire.conn.disconnect()  # type: ignore[no-untyped-call]
        self._wire = None

    def _connection(self) -> _Wire:
        wire = self._wire
        if wire is None:
            assert self._pool is not None  # not on a Cluster
            conn = self._pool.make_connection()
            # Kept only once connected: a Sentinel connection learns its primary's
            # address in connect(); one that failed to (no primary yet) would later
            # connect itself to redis-py's default localhost:6379 on first send.
            conn.connect()  # type: ignore[no-untyped-call]
            try:
                wire = _Wire(conn, self._spin)
            except redis.ConnectionError:
                conn.disconnect()  # type: ignore[no-untyped-call]
                raise
            self._wire = wire
        return wire

    def close(self) -> None:
        with self._lock:
            if self._wire is not None:
                self._wire.conn.disconnect()  # type: ignore[no-untyped-call]
                self._wire = None
        if self._pool is not None:
            self._pool.disconnect()
        if self._cluster is not None:
            self._cluster.close()
