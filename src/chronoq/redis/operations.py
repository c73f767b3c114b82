"""Bulk operations in Redis (keys.py `OperationKeys`, `QueueKeys.op_ids`).

An operation's record (spec, state, lease, capture) is one HASH under `{~ops}`:
claiming, renewing, cancelling and finishing are one script each there. Its frozen
set of ids is split by queue, each part (a LIST of ids and a HASH with the cursor
and the counts per outcome) in its queue's slot, next to the jobs: one script call
acts on a batch of a part and advances its cursor together (operation_batch.lua).
So every script touches one slot (Redis Cluster), and a runner killed between two
calls leaves each job acted on once or not at all.

Parts are named '<operation id>:<token of the runner that captured them>': a runner
that lost its lease while capturing writes parts nobody reads (they expire), never
into the ones a newer runner captured.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from chronoq.core.errors import OperationConflict
from chronoq.core.operations import (
    Edits,
    Operation,
    OperationKind,
    OperationSpec,
    OperationState,
    Outcome,
)
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace, QueueKeys
from chronoq.redis.scripts import SCRIPTS

DAY_MS = 86_400_000
KEEP_MS = 7 * DAY_MS  # how long a finished operation's record is kept
PART_TTL_MS = 7 * DAY_MS  # a part outlives any run; one nobody reads goes away on its own
IDEMPOTENCY_TTL_MS = DAY_MS  # how long an idempotency key finds its operation
WRITE_CHUNK = 1000  # ids per RPUSH while capturing
_OUTCOMES = [o.value for o in Outcome]


@dataclass(frozen=True, slots=True)
class Created:
    operation_id: str
    created: bool  # False: the idempotency key's earlier operation
    created_ms: int


@dataclass(frozen=True, slots=True)
class Claimed:
    operation_id: str
    capture: str  # token naming its parts; '' when its set is not captured yet
    claims: int


@dataclass(frozen=True, slots=True)
class BatchResult:
    cursor: int
    size: int
    state: str  # 'more', 'done', 'cancelled', 'missing'


class OperationStore:
    def __init__(self, redis: AsyncRedis, keyspace: Keyspace, *, events_cap: int = 0) -> None:
        self.redis = redis
        self.keyspace = keyspace
        self.keys = keyspace.operations
        self.events_cap = events_cap

    def _k(self) -> list[str]:
        return [self.keys.runnable, self.keys.op_prefix]

    # -- records ---------------------------------------------------------------

    async def create(
        self, operation_id: str, spec: OperationSpec, idempotency_key: str = ""
    ) -> Created:
        k = self.keys
        keys = [k.index, k.runnable, k.wake, k.op_prefix, k.idem_prefix]
        args: list[str | int] = [operation_id, idempotency_key, spec.fingerprint()]
        args += [IDEMPOTENCY_TTL_MS, spec.kind.value, spec_json(spec)]
        found, status, created_ms = await SCRIPTS.operation_create(self.redis, keys, args)
        if status == "conflict":
            raise OperationConflict(idempotency_key, str(found))
        return Created(str(found), status == "created", int(created_ms))

    async def get(self, operation_id: str) -> Operation | None:
        found = await self._read([operation_id])
        return found[0]

    async def recent(self, limit: int = 50, before_ms: int | None = None) -> list[Operation]:
        """Newest first; records that expired are dropped from the index on the way."""
        top = "+inf" if before_ms is None else f"({before_ms}"
        found = await self.redis.zrevrangebyscore(self.keys.index, top, "-inf", start=0, num=limit)
        ids = [str(i) for i in found]
        read = await self._read(ids)
        gone = [i for i, op in zip(ids, read, strict=True) if op is None]
        if gone:
            await self.redis.zrem(self.keys.index, *gone)
        return [op for op in read if op is not None]

    async def _read(self, ids: Sequence[str]) -> list[Operation | None]:
        """Records, with the progress of those not finished summed over their parts
        (a finished one keeps its final counts in its record)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for operation_id in ids:
                pipe.hgetall(self.keys.op(operation_id))
            records: list[dict[str, str]] = await pipe.execute()
        ops = [_operation(i, r) if r else None for i, r in zip(ids, records, strict=True)]
        wanted: list[tuple[int, str]] = []  # (index in ops, part key)
        for at, (op, record) in enumerate(zip(ops, records, strict=True)):
            if op is not None and "counts" not in record and record.get("set"):
                part = part_name(op.id, record["set"])
                wanted += [(at, self.queue(q).op_progress(part)) for q in op.queues]
        if not wanted:
            return ops
        async with self.redis.pipeline(transaction=False) as pipe:
            for _, key in wanted:
                pipe.hgetall(key)
            parts: list[dict[str, str]] = await pipe.execute()
        sums: dict[int, tuple[int, dict[str, int]]] = {}
        for (at, _), progress in zip(wanted, parts, strict=True):
            sums[at] = _add(sums.get(at), progress)
        for at, (processed, counts) in sums.items():
            op = ops[at]
            if op is not None:
                ops[at] = replace(op, processed=processed, counts=counts)
        return ops

    # -- runners -----------------------------------------------------------------

    async def claim(self, token: str, lease_ms: int, operation_id: str = "") -> Claimed | None:
        reply = await SCRIPTS.operation_claim(
            self.redis, self._k(), [token, lease_ms, operation_id]
        )
        if not reply:
            return None
        found, capture, claims = reply
        return Claimed(str(found), str(capture), int(claims))

    async def renew(self, operation_id: str, token: str, lease_ms: int) -> bool:
        args: list[str | int] = [operation_id, token, lease_ms]
        return bool(await SCRIPTS.operation_renew(self.redis, self._k(), args))

    def queue(self, name: str) -> QueueKeys:
        return self.keyspace.queue(name)

    async def write_part(
        self, queue: str, operation_id: str, token: str, job_ids: Sequence[str]
    ) -> None:
        """Append ids to a part being captured (not read until `captured`)."""
        key = self.queue(queue).op_ids(part_name(operation_id, token))
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(job_ids), WRITE_CHUNK):
                pipe.rpush(key, *job_ids[start : start + WRITE_CHUNK])
            pipe.pexpire(key, PART_TTL_MS)
            await pipe.execute()

    async def seal_parts(self, operation_id: str, token: str, sizes: dict[str, int]) -> None:
        """Each part's progress hash: its size, cursor 0."""
        part = part_name(operation_id, token)
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue, n in sizes.items():
                key = self.queue(queue).op_progress(part)
                pipe.delete(key)
                pipe.hset(key, mapping={"n": n, "cursor": 0})
                pipe.pexpire(key, PART_TTL_MS)
            await pipe.execute()

    async def captured(
        self, operation_id: str, token: str, total: int, queues: Sequence[str]
    ) -> bool:
        args: list[str | int] = [operation_id, token, total, json.dumps(list(queues))]
        return bool(await SCRIPTS.operation_captured(self.redis, self._k(), args))

    async def drop_parts(self, operation_id: str, token: str, queues: Sequence[str]) -> None:
        part = part_name(operation_id, token)
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                q = self.queue(queue)
                pipe.delete(q.op_ids(part), q.op_progress(part))
            await pipe.execute()

    async def batch(
        self,
        queue: str,
        operation_id: str,
        capture: str,
        spec: OperationSpec,
        size: int,
    ) -> BatchResult:
        q = self.queue(queue)
        part = part_name(operation_id, capture)
        keys = [q.op_progress(part), q.op_ids(part), q.dead, q.ready, q.seq, q.wake]
        keys += [q.job_prefix, q.fair, q.index_prefix, q.events, q.result_prefix]
        edits = spec.edits
        priority = "" if edits.priority is None else str(edits.priority)
        args: list[str | int] = [spec.kind.value, size, "1" if spec.dry_run else "0", priority]
        args += [edits.note, self.events_cap]
        cursor, n, state = await SCRIPTS.operation_batch(self.redis, keys, args)
        return BatchResult(int(cursor), int(n), str(state))

    async def progress(
        self, operation_id: str, capture: str, queues: Sequence[str]
    ) -> tuple[int, dict[str, int]]:
        """(processed, counts) summed over the parts."""
        part = part_name(operation_id, capture)
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.hgetall(self.queue(queue).op_progress(part))
            parts: list[dict[str, str]] = await pipe.execute()
        total: tuple[int, dict[str, int]] | None = None
        for found in parts:
            total = _add(total, found)
        return total or (0, {})

    async def finish(
        self,
        operation_id: str,
        token: str,
        state: OperationState,
        *,
        error: str = "",
        processed: int = 0,
        counts: dict[str, int] | None = None,
    ) -> bool:
        args: list[str | int] = [operation_id, token, state.value, error]
        args += [json.dumps(counts or {}), processed, KEEP_MS]
        return bool(await SCRIPTS.operation_finish(self.redis, self._k(), args))

    async def cancel(self, operation_id: str) -> tuple[OperationState, str, list[str]] | None:
        """Cancel it and mark its parts cancelled: once this returns no job is acted on
        for it. Returns its state now (CANCELLED, or the final state it had), its
        capture token and queues; None when there is no such operation."""
        reply = await SCRIPTS.operation_cancel(self.redis, self._k(), [operation_id, KEEP_MS])
        if not reply:
            return None
        state, capture, queues_json = (str(x) for x in reply)
        queues = [str(q) for q in json.loads(queues_json)]
        if state == OperationState.CANCELLED.value and capture:
            part = part_name(operation_id, capture)
            async with self.redis.pipeline(transaction=False) as pipe:
                for queue in queues:
                    pipe.hset(self.queue(queue).op_progress(part), "cancelled", "1")
                await pipe.execute()
        return OperationState(state), capture, queues

    async def keep_counts(self, operation_id: str, processed: int, counts: dict[str, int]) -> None:
        """Store the final counts of a cancelled operation in its record (its parts
        may then go)."""
        key = self.keys.op(operation_id)
        await self.redis.hset(key, mapping={"counts": json.dumps(counts), "processed": processed})

    # -- waiting -------------------------------------------------------------------

    async def wait(self, blocking: AsyncRedis, seconds: float) -> None:
        """Block until an operation is created (its doorbell) or `seconds` pass."""
        await blocking.blpop([self.keys.wake], timeout=max(seconds, 0.01))


def part_name(operation_id: str, token: str) -> str:
    return f"{operation_id}:{token}"


def spec_json(spec: OperationSpec) -> str:
    return json.dumps(
        {
            "filter": spec.filter,
            "edits": spec.edits.to_dict(),
            "actor": spec.actor,
            "dry_run": spec.dry_run,
            "filter_text": spec.filter_text,
        }
    )


def _spec(kind: str, text: str) -> OperationSpec:
    data = json.loads(text)
    return OperationSpec(
        kind=OperationKind(kind),
        filter=data["filter"],
        edits=Edits.from_dict(data.get("edits", {})),
        actor=data.get("actor", ""),
        dry_run=bool(data.get("dry_run", False)),
        filter_text=data.get("filter_text", ""),
    )


def _operation(operation_id: str, f: dict[str, str]) -> Operation:
    total = f.get("total")
    counts: dict[str, Any] = json.loads(f["counts"]) if "counts" in f else {}
    return Operation(
        id=operation_id,
        spec=_spec(f["kind"], f["spec"]),
        state=OperationState(f["state"]),
        created_ms=int(f["created"]),
        updated_ms=int(f["updated"]),
        total=None if total is None else int(total),
        processed=int(f.get("processed", 0)),
        counts={str(k): int(v) for k, v in counts.items()},
        queues=json.loads(f["queues"]) if "queues" in f else [],
        error=f.get("error", ""),
        idempotency_key=f.get("idem", ""),
    )


def _add(
    total: tuple[int, dict[str, int]] | None, part: dict[str, str]
) -> tuple[int, dict[str, int]]:
    processed, counts = total or (0, {})
    counts = dict(counts)
    for outcome in _OUTCOMES:
        value = part.get("o:" + outcome)
        if value is not None:
            counts[outcome] = counts.get(outcome, 0) + int(value)
    return processed + int(part.get("cursor", 0)), counts
