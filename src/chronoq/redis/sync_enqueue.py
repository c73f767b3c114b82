"""Enqueue over a blocking connection: the sync client's fast path.

A sync caller would otherwise pay a hop to an event-loop thread per job; this
speaks to Redis directly with the same script and the same packing as the broker.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from chronoq.core.job import JobSpec
from chronoq.redis.broker import BATCH_LIMIT, Enqueued, Placement, enqueue_command, parse_enqueued
from chronoq.redis.connection import COMMAND_TIMEOUT
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import SCRIPTS


class SyncEnqueuer:
    def __init__(self, url: str, keyspace: Keyspace) -> None:
        self.redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=COMMAND_TIMEOUT,
            socket_connect_timeout=5.0,
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.025), 2),
        )
        self.keys = keyspace
        self._registered: set[str] = set()

    def enqueue(self, queue: str, jobs: Sequence[tuple[JobSpec, Placement]]) -> list[Enqueued]:
        q = self.keys.queue(queue)
        if queue not in self._registered:
            self.redis.sadd(self.keys.queues, queue)
            self._registered.add(queue)
        out: list[Enqueued] = []
        for start in range(0, len(jobs), BATCH_LIMIT):
            keys, args = enqueue_command(q, jobs[start : start + BATCH_LIMIT])
            out.extend(parse_enqueued(SCRIPTS.enqueue.call_sync(self.redis, keys, args)))
        return out

    def close(self) -> None:
        self.redis.close()
