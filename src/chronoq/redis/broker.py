"""The broker: chronoq's queue operations in domain words, over Redis.

Every state change is one Lua script (see scripts/*.lua for each contract);
this module only packs arguments and unpacks replies (the job scripts' KEYS,
enqueue's packing and the claim replies' decoding: `chronoq.redis.job_wire`). It
knows nothing of tasks, workers or retries policy: callers decide, the broker records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import Redis

from chronoq.core import serialization
from chronoq.core.claims import (
    ANY_DEAD,
    Claim,
    ClaimedJob,
    DeadSelection,
    Enqueued,
    Placement,
)
from chronoq.core.errors import InvalidJobState, JobNotFound, NotReplicated
from chronoq.core.job import Field, JobSpec, JobStatus
from chronoq.core.retention import FINISHED_STATES, Keep, RetentionPolicy
from chronoq.redis.durability import Durability, run_acked
from chronoq.redis.job_wire import (
    ENTRY_SIZE,
    claim_keys,
    claimed_jobs,
    complete_keys,
    decode_entry,
    enqueue_command,
    expired_jobs,
    gate_keys,
    parse_enqueued,
)
from chronoq.redis.keys import Keyspace, QueueKeys
from chronoq.redis.lane import lane_for
from chronoq.redis.liveness import beat_fields
from chronoq.redis.scripts import SCRIPTS, Script, ScriptArgs, ScriptCall, pipelined

log = logging.getLogger("chronoq.redis")

BATCH_LIMIT = 1000
SENTINEL = "-"  # an inbox entry that only ends a blocking read


class Broker:
    """Queue operations on one Redis, under one key prefix."""

    def __init__(
        self,
        redis: Redis,
        keyspace: Keyspace,
        *,
        durability: Durability | None = None,
        events_cap: int = 10_000,
    ) -> None:
        self.redis = redis
        self.keys = keyspace
        self.durability = durability or Durability()
        self.events_cap = events_cap  # MAXLEN of each queue's event stream; 0: no events
        self._registered: set[str] = set()
        # A kept connection each for the hot sequential callers (chronoq.redis.lane):
        # single enqueues, the worker's claims, its outcomes, and its trimming (every
        # second or so per queue: on a Cluster the client's own path was about 1 % of a
        # busy worker's CPU). A lane takes its connection on first use.
        self._enqueue_lane = lane_for(redis)
        self._claim_lane = lane_for(redis)
        self._outcome_lane = lane_for(redis)
        self._trim_lane = lane_for(redis)

    async def close(self) -> None:
        await self.close_lanes()
        await self.redis.aclose()

    async def close_lanes(self) -> None:
        for lane in (self._enqueue_lane, self._claim_lane, self._outcome_lane, self._trim_lane):
            if lane is not self.redis:
                await lane.aclose()

    # -- producing ---------------------------------------------------------

    async def enqueue(
        self, queue: str, jobs: Sequence[tuple[JobSpec, Placement]]
    ) -> list[Enqueued]:
        """Create jobs in one queue with one script call per batch."""
        q = self.keys.queue(queue)
        await self._register(queue)
        out: list[Enqueued] = []
        for start in range(0, len(jobs), BATCH_LIMIT):
            out.extend(await self._enqueue_batch(q, jobs[start : start + BATCH_LIMIT]))
        return out

    async def _enqueue_batch(
        self, q: QueueKeys, jobs: Sequence[tuple[JobSpec, Placement]]
    ) -> list[Enqueued]:
        script, keys, args = enqueue_command(q, jobs, self.events_cap)
        if not self.durability.waits:
            return parse_enqueued(await script(self._enqueue_lane, keys, args))
        reply, acked = await run_acked(self.redis, script, keys, args, self.durability)
        if acked < self.durability.replicas:
            raise NotReplicated(
                f"enqueue of {len(jobs)} job(s) to {q.queue!r} reached the primary but "
                f"{acked} of {self.durability.replicas} replica(s) confirmed it within "
                f"{self.durability.timeout:g}s; a failover now could lose it (safe to retry)",
                acked=acked,
                wanted=self.durability.replicas,
            )
        return parse_enqueued(reply)

    async def _record(self, script: Script, keys: Sequence[str], args: ScriptArgs) -> Any:
        """Run an outcome script; with replica acks, wait for the replicas and warn when
        they fall short (the job then may run again after a failover: at least once)."""
        if not self.durability.waits:
            return await script(self._outcome_lane, keys, args)
        reply, acked = await run_acked(self.redis, script, keys, args, self.durability)
        if acked < self.durability.replicas:
            log.warning(
                "chronoq: %s confirmed by %d of %d replica(s); a failover now may rerun it",
                script.name,
                acked,
                self.durability.replicas,
            )
        return reply

    async def _register(self, queue: str) -> None:
        if queue not in self._registered:
            await self.redis.sadd(self.keys.queues, queue)
            self._registered.add(queue)

    # -- consuming ---------------------------------------------------------

    async def claim(
        self,
        queue: str,
        count: int,
        *,
        lease_ms: int,
        token: str,
        worker_id: str,
        retention_ms: int,
        register_idle: bool = True,
        free_slots: int | None = None,
        ahead_ms: int = 0,
    ) -> Claim:
        """Lease up to `count` ready jobs. With `register_idle`, a worker left with free
        slots is registered so the next enqueues hand their jobs straight over: up to
        `free_slots` (default `count`) less what this call claimed. `ahead_ms`: with
        places left, also lease plain jobs falling due within that many ms, each with
        its due time as its `started_ms` (the caller starts it then; claim.lua)."""
        q = self.keys.queue(queue)
        args: list[str | int] = [
            count,
            lease_ms,
            token,
            worker_id,
            retention_ms,
            int(register_idle),
            count if free_slots is None else free_slots,
            self.events_cap,
            ahead_ms,
        ]
        reply = await SCRIPTS.claim(self._claim_lane, claim_keys(q), args)
        next_due = int(reply[1])
        jobs = claimed_jobs(queue, token, reply)
        due = next_due if next_due >= 0 else None
        server = float(reply[0])
        return Claim(int(server), due, jobs, int(reply[2]), expired_jobs(reply[3]), server)

    def handed_off(self, queue: str, entry: str) -> ClaimedJob:
        """Decode a job that enqueue handed straight to this worker's inbox: the
        claim reply's entry (`run_entry` in _lib.lua) as JSON, the lease token last.

        enqueue.lua checks the fields it writes, so only a tampered inbox holds an entry
        this cannot read: that raises ValueError naming it (its job, if any, stays
        leased until recover requeues it). The arguments are decoded later, by `plan`.

        The entry is a flat list; nesting is refused after the parse (one pass over
        its values), not by a depth scan of the text before it: the arguments' JSON
        is one of its strings, so the text always holds more brackets than a flat
        list, and the scan ran on every hand-off (about 5 % of an idle worker's CPU
        per job). Nesting too deep for the parser itself is refused by `loads`.
        """
        try:
            values = serialization.loads(entry, what="hand-off entry")
            if not isinstance(values, list) or len(values) != ENTRY_SIZE + 1:
                raise TypeError(f"expected a list of {ENTRY_SIZE + 1} values")
            if any(isinstance(v, list | dict) for v in values):
                raise TypeError("expected a flat list (a value is a list or an object)")
            token = values[-1]
            if not all(isinstance(v, str) for v in (*values[:3], token)):
                raise TypeError("id, task, args and lease token must be strings")
            return decode_entry(queue, token, values, 0)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"unreadable hand-off entry {entry[:80]!r}: {exc}") from None

    async def retire(self, queue: str, worker_id: str) -> int:
        """Leave a queue: drop the idle registration, return handed-off jobs not started."""
        q = self.keys.queue(queue)
        keys = [q.idle, q.idle_leases, q.inbox(worker_id), q.active, q.ready, q.wake, q.job_prefix]
        return int(await SCRIPTS.retire(self.redis, keys, [worker_id]))

    async def complete(
        self,
        queue: str,
        outcomes: Sequence[tuple[str, str, str]],
        *,
        retention_ms: int,
        result_ttl_ms: int,
        memory: int | None = None,
    ) -> list[str]:
        """Record successes: (id, token, result JSON or ''), `memory` the worker's RSS
        (bytes) when they ended. Returns stale ids."""
        q = self.keys.queue(queue)
        mem = "" if memory is None else memory
        args: list[str | int] = [retention_ms, result_ttl_ms, len(outcomes), self.events_cap, mem]
        for outcome in outcomes:
            args.extend(outcome)
        return list(await self._record(SCRIPTS.complete, complete_keys(q), args))

    async def progress(
        self, queue: str, job_id: str, token: str, fraction: float, message: str
    ) -> bool:
        """Record a running job's progress. False when the run's lease is gone."""
        keys = [self.keys.queue(queue).job_prefix]
        args = [job_id, token, repr(fraction), message]
        return bool(await SCRIPTS.progress(self.redis, keys, args))

    async def fail(
        self,
        queue: str,
        job_id: str,
        token: str,
        *,
        error: str,
        traceback: str,
        retry_in_ms: int | None,
        cancelled: bool = False,
        retention_ms: int = 0,
        failure: str = "",
        memory: int | None = None,
    ) -> JobStatus | None:
        """Record a failed attempt: retry after `retry_in_ms`, or dead-letter (None);
        or a run ended by a cancel (`cancelled`: finished, kept `retention_ms`).
        `failure`: the attempt's group and class (`Failure.wire`), '' for none.

        Returns the new status, or None when the lease was no longer ours.
        """
        q = self.keys.queue(queue)
        keys = [
            q.active,
            q.scheduled,
            q.dead,
            q.job_prefix,
            q.unique_prefix,
            q.stats,
            q.wake,
            q.ready,
            *gate_keys(q),
            q.done,
            q.index_prefix,
            q.events,
        ]
        delay = -2 if cancelled else -1 if retry_in_ms is None else max(0, retry_in_ms)
        mem = "" if memory is None else memory
        args: list[str | int] = [job_id, token, error, traceback, delay, retention_ms, failure]
        args += [mem, self.events_cap]
        reply = await self._record(SCRIPTS.fail, keys, args)
        return JobStatus(reply) if reply else None

    async def defer(self, queue: str, jobs: Sequence[tuple[str, str, int, str]]) -> int:
        """Put leased jobs (id, token, run-at ms, reservations JSON) back to wait,
        the attempt not counted. Returns how many were still ours to defer."""
        q = self.keys.queue(queue)
        args: list[str | int] = [len(jobs), self.events_cap]
        for job in jobs:
            args.extend(job)
        keys = [q.active, q.scheduled, q.job_prefix, q.stats, q.wake, q.ready, *gate_keys(q)]
        keys.append(q.events)
        return int(await self._record(SCRIPTS.defer, keys, args))

    async def undefer(self, queue: str, limit: str, job_ids: Sequence[str]) -> int:
        """Make jobs booked by `limit` for later due now (the limit changed)."""
        q = self.keys.queue(queue)
        keys = [q.scheduled, q.job_prefix, q.wake]
        return int(await SCRIPTS.undefer(self.redis, keys, [limit, *job_ids]))

    async def renew(
        self, queue: str, leases: Sequence[tuple[str, str]], *, lease_ms: int
    ) -> tuple[list[str], list[str]]:
        """Extend leases (id, token). Returns the ids whose lease was lost, and those
        a cancel was asked for."""
        q = self.keys.queue(queue)
        args: list[str | int] = [lease_ms, len(leases)]
        for lease in leases:
            args.extend(lease)
        lost, cancelling = await SCRIPTS.renew(self.redis, [q.active, q.job_prefix], args)
        return list(lost), list(cancelling)

    async def release(self, queue: str, leases: Sequence[tuple[str, str]]) -> int:
        """Hand jobs back to the queue without counting the attempt."""
        q = self.keys.queue(queue)
        args: list[str | int] = [len(leases), self.events_cap]
        for lease in leases:
            args.extend(lease)
        keys = [q.active, q.ready, q.wake, q.job_prefix, *gate_keys(q), q.events]
        return int(await SCRIPTS.release(self.redis, keys, args))

    async def recover(self, queue: str, *, default_max_retries: int) -> tuple[int, int, int]:
        """Requeue (or dead-letter) jobs whose lease expired, and wake parked jobs whose
        gates have room. Returns (requeued, dead, unparked)."""
        q = self.keys.queue(queue)
        keys = [
            q.active,
            q.ready,
            q.seq,
            q.dead,
            q.wake,
            q.job_prefix,
            q.unique_prefix,
            q.stats,
            *gate_keys(q),
            q.fair,
            q.index_prefix,
            q.events,
        ]
        args = [default_max_retries, BATCH_LIMIT, self.events_cap]
        reply = await SCRIPTS.recover(self.redis, keys, args)
        requeued, dead, unparked = reply
        return int(requeued), int(dead), int(unparked)

    async def trim(self, queue: str, *, retention_ms: int) -> int:
        """Forget finished jobs (every finished state) older than the retention: index
        entries (the search indexes' too), leftover records and results. Dead jobs are
        kept. Returns how many were forgotten."""
        total = 0
        for status in FINISHED_STATES:
            keep = Keep(age=retention_ms / 1000)
            total += await self.trim_state(queue, status, keep, index_age_ms=keep.age_ms)
        return total

    async def trim_policy(self, queue: str, policy: RetentionPolicy) -> dict[JobStatus, int]:
        """Forget each final state's jobs beyond what `policy` keeps (by age, by count).
        Completions trim succeeded ones by age too, but only while jobs complete: this
        keeps an idle queue trimmed. Returns how many were forgotten per state."""
        out: dict[JobStatus, int] = {}
        index_age_ms = policy.record_ttl_ms(*FINISHED_STATES)
        for status, keep in policy.states:
            if keep.age is not None or keep.count is not None:
                out[status] = await self.trim_state(queue, status, keep, index_age_ms=index_age_ms)
        return out

    async def trim_state(
        self, queue: str, status: JobStatus, keep: Keep, *, index_age_ms: int = 0
    ) -> int:
        """Forget the jobs of one final state beyond `keep` (counted in the queue's
        'trimmed' counter), with their search index entries. `index_age_ms`: also drop
        finished search index entries older than that (the longest retention of any
        finished state: a record that expired on its own by then is gone before the
        trimmer could read where it was indexed); 0 for none. Returns how many were
        forgotten."""
        q = self.keys.queue(queue)
        keys = [q.done, q.done_prefix, q.dead, q.job_prefix, q.result_prefix, q.stats]
        keys.append(q.index_prefix)
        args: list[str | int] = [status.value, keep.age_ms, keep.count or 0, BATCH_LIMIT]
        args.append(index_age_ms)
        total = 0
        while True:
            removed = int(await SCRIPTS.trim(self._trim_lane, keys, args))
            total += removed
            if removed < BATCH_LIMIT:
                return total

    async def wait_for_work(
        self, blocking: Any, queues: Iterable[str], worker_id: str, timeout: float
    ) -> tuple[str, str] | None:
        """Block (on its own connection: a client for blocking reads, or a lane over
        one, see `blocking_lane`) until a job is handed to this worker's inbox or a
        queue's doorbell rings, or `timeout` passes. Returns (key, value) or None."""
        keys: list[str] = []
        for name in queues:
            q = self.keys.queue(name)
            keys += [q.inbox(worker_id), q.wake]
        reply = await blocking.execute_command("BLPOP", *keys, max(timeout, 0.001))
        return (str(reply[0]), str(reply[1])) if reply else None

    @staticmethod
    def blocking_lane(client: Any) -> Any:
        """What an idle worker's blocking read is sent on: a lane over its client (the
        hand-off it returns is a job that starts now, so the read skips redis-py's
        per-command path; see `chronoq.redis.lane`). The caller `aclose`s it."""
        return lane_for(client)

    async def push_sentinel(self, inbox_key: str) -> None:
        """End this worker's own pending blocking read (at shutdown)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(inbox_key, SENTINEL)
            pipe.pexpire(inbox_key, 10_000)
            await pipe.execute()

    async def ring(self, doorbell_key: str) -> None:
        """Ring a doorbell again: hand a wake-up this worker cannot use to another."""
        await self.redis.rpush(doorbell_key, "1")

    # -- operator actions --------------------------------------------------

    async def cancel(self, queue: str, job_id: str, *, retention_ms: int) -> JobStatus | None:
        """Cancel a waiting job (JobStatus.CANCELLED), or ask the worker running it to
        stop it (None: its run ends 'cancelled' soon). Finished jobs cannot be."""
        q = self.keys.queue(queue)
        keys = [
            q.ready,
            q.scheduled,
            q.done,
            q.job_prefix,
            q.unique_prefix,
            q.parked_prefix,
            q.blocked,
            q.index_prefix,
            q.events,
        ]
        args: list[str | int] = [job_id, retention_ms, self.keys.cancel_channel, self.events_cap]
        reply = await self._record(SCRIPTS.cancel, keys, args)
        if not reply:
            raise JobNotFound(f"no job with id {job_id!r}")
        if reply == "cancelling":
            return None
        if reply != "cancelled":
            raise InvalidJobState(f"job {job_id} is {reply}; a finished job cannot be cancelled")
        return JobStatus.CANCELLED

    async def requeue_dead(
        self,
        queue: str,
        job_id: str | None = None,
        *,
        select: DeadSelection = ANY_DEAD,
        payload: str | None = None,
    ) -> int:
        """Requeue dead jobs (one, or every one `select` picks), keeping their attempt
        history. Returns how many were requeued. `payload`: new arguments (an encoded
        call, checked by the caller) for the one job `job_id` names."""
        q = self.keys.queue(queue)
        keys = [q.dead, q.ready, q.seq, q.wake, q.job_prefix, q.fair, q.index_prefix, q.events]
        total, offset = 0, 0
        while offset >= 0:
            args: list[str | int] = [job_id or "*", BATCH_LIMIT, *select.wire, offset]
            args += [self.events_cap, payload or ""]
            moved, offset = (int(n) for n in await SCRIPTS.requeue_dead(self.redis, keys, args))
            total += moved
        return total

    async def requeue_dead_ids(self, queue: str, job_ids: Sequence[str]) -> int:
        """Requeue these dead jobs (ids no longer dead are skipped), up to BATCH_LIMIT
        script calls per round trip. Returns how many were requeued."""
        q = self.keys.queue(queue)
        keys = [q.dead, q.ready, q.seq, q.wake, q.job_prefix, q.fair, q.index_prefix, q.events]
        total = 0
        for start in range(0, len(job_ids), BATCH_LIMIT):
            calls: list[ScriptCall] = [
                (SCRIPTS.requeue_dead, keys, [job_id, 1, *ANY_DEAD.wire, 0, self.events_cap, ""])
                for job_id in job_ids[start : start + BATCH_LIMIT]
            ]
            total += sum(int(reply[0]) for reply in await pipelined(self.redis, calls))
        return total

    async def purge_dead(self, queue: str, job_id: str | None = None) -> int:
        q = self.keys.queue(queue)
        keys = [q.dead, q.job_prefix, q.result_prefix, q.index_prefix]
        total = 0
        while True:
            deleted = int(await SCRIPTS.purge_dead(self.redis, keys, [job_id or "*", BATCH_LIMIT]))
            total += deleted
            if job_id or deleted < BATCH_LIMIT:
                return total

    # -- workers -----------------------------------------------------------

    async def heartbeat(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        key = self.keys.worker(worker_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={k: v for k, v in beat_fields(info, ttl).items()})
            pipe.pexpire(key, int(ttl * 1000))
            pipe.zadd(self.keys.workers, {worker_id: _now_hint()})
            await pipe.execute()

    async def unregister_worker(self, worker_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(self.keys.worker(worker_id))
            pipe.zrem(self.keys.workers, worker_id)
            await pipe.execute()


def _now_hint() -> int:
    return int(time.time() * 1000)


__all__ = ["Broker", "Field"]
