"""Enqueue over a blocking connection: the sync client's fast path.

A sync caller would otherwise pay a hop to an event-loop thread per job; this
speaks to Redis directly with the same script and the same packing as the broker.
It drives one dedicated connection itself (under a lock, so threads may share the
client): redis-py's per-command machinery (pool checkout, retry wrapper, metrics
attributes) costs more than the round trip on a local server, and single enqueues
are judged by round-trip cost.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import hiredis
import redis
from redis.connection import ConnectionInterface, ConnectionPool
from redis.exceptions import NoScriptError

from chronoq.core.job import JobSpec
from chronoq.redis.broker import BATCH_LIMIT, Enqueued, Placement, enqueue_command, parse_enqueued
from chronoq.redis.connection import COMMAND_TIMEOUT
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import SCRIPTS

_RETRIES = 2  # on a dropped connection; safe: enqueue.lua skips ids that exist


class SyncEnqueuer:
    def __init__(self, url: str, keyspace: Keyspace) -> None:
        self._pool = ConnectionPool.from_url(
            url, decode_responses=True, socket_timeout=COMMAND_TIMEOUT, socket_connect_timeout=5.0
        )
        self._conn: ConnectionInterface | None = None
        self._lock = threading.Lock()
        self.keys = keyspace
        self._registered: set[str] = set()

    def enqueue(self, queue: str, jobs: Sequence[tuple[JobSpec, Placement]]) -> list[Enqueued]:
        q = self.keys.queue(queue)
        if queue not in self._registered:
            self._call("SADD", self.keys.queues, queue)
            self._registered.add(queue)
        out: list[Enqueued] = []
        for start in range(0, len(jobs), BATCH_LIMIT):
            keys, args = enqueue_command(q, jobs[start : start + BATCH_LIMIT])
            out.extend(parse_enqueued(self._script(keys, args)))
        return out

    def _script(self, keys: list[str], args: list[str]) -> Any:
        script = SCRIPTS.enqueue
        try:
            return self._call("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            self._call("SCRIPT", "LOAD", script.source)
            return self._call("EVALSHA", script.sha, len(keys), *keys, *args)

    def _call(self, *command: str | int) -> Any:
        packed = [hiredis.pack_command(command)]  # type: ignore[arg-type]  # native packing
        with self._lock:
            for attempt in range(_RETRIES + 1):
                conn = self._connection()
                try:
                    conn.send_packed_command(packed, check_health=False)  # type: ignore[no-untyped-call]
                    return conn.read_response()
                except (redis.ConnectionError, redis.TimeoutError):
                    conn.disconnect()  # type: ignore[no-untyped-call]
                    self._conn = None
                    if attempt == _RETRIES:
                        raise
        raise AssertionError("unreachable")

    def _connection(self) -> ConnectionInterface:
        conn = self._conn
        if conn is None:
            conn = self._conn = self._pool.make_connection()
            conn.connect()  # type: ignore[no-untyped-call]
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.disconnect()  # type: ignore[no-untyped-call]
                self._conn = None
        self._pool.disconnect()
