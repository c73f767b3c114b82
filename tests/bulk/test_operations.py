"""Bulk operations against a real Redis: the frozen set, progress, cancel, dry run,
idempotent creation, each kind, and a runner serving them as they come."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis

from chronoq import App, Client
from chronoq.bulk import OperationRunner, Operations
from chronoq.bulk.capture import capture
from chronoq.core.errors import ConfigurationError, OperationConflict, OperationNotFound
from chronoq.core.job import JobStatus
from chronoq.core.operations import OperationState
from chronoq.observe.search import JobFilter
from chronoq.redis.keys import Keyspace
from tests.bulk.helpers import history_marks, make_dead


@pytest.fixture
async def ops(client: Client) -> AsyncIterator[Operations]:
    yield Operations(client)


def statuses(raw: redis.Redis, prefix: str, ids: list[str], queue: str = "default") -> set[str]:
    q = Keyspace(prefix).queue(queue)
    return {str(raw.hget(q.job(i), "status")) for i in ids}


async def test_a_requeue_moves_every_matching_dead_job_once_keeping_history(
    client: Client, ops: Operations, raw: redis.Redis, prefix: str
) -> None:
    wanted = await make_dead(client, 30, task="send")
    other = await make_dead(client, 5, task="bill")
    op = await ops.create("requeue", JobFilter(task="send"), actor="alice")
    assert op.state is OperationState.PENDING and op.total is None
    assert op.spec.filter == {"task": "send", "status": "dead"}
    done = await ops.run(op.id, batch_size=7)
    assert done.state is OperationState.DONE
    assert (done.total, done.processed) == (30, 30)
    assert done.counts == {"requeued": 30}
    assert done.to_dict()["progress"] == {"processed": 30, "total": 30, "fraction": 1.0}
    assert statuses(raw, prefix, wanted) == {"queued"}
    assert statuses(raw, prefix, other) == {"dead"}
    q = Keyspace(prefix).queue("default")
    assert all(history_marks(raw, q, i) == ["dead", "requeued"] for i in wanted)
    assert raw.zcard(q.ready) == 30 and raw.zcard(q.dead) == 5
    assert not raw.keys(f"{prefix}:{{default}}:op*")  # its parts are gone once it is done


async def test_the_set_is_frozen_at_creation_a_job_dying_later_is_not_swept_in(
    client: Client, ops: Operations, raw: redis.Redis, prefix: str
) -> None:
    before = await make_dead(client, 10)
    op = await ops.create("requeue")
    await asyncio.sleep(0.01)
    later = await make_dead(client, 4)
    done = await ops.run(op.id)
    assert (done.total, done.counts) == (10, {"requeued": 10})
    assert statuses(raw, prefix, before) == {"queued"}
    assert statuses(raw, prefix, later) == {"dead"}


async def test_jobs_no_longer_dead_when_their_turn_comes_are_skipped_and_counted(
    app: App, client: Client, ops: Operations, raw: redis.Redis, prefix: str
) -> None:
    ids = await make_dead(client, 20)
    op = await ops.create("requeue")
    store = client.backend.operations
    assert await store.claim("first", 1, op.id)  # a runner that captures, then dies
    captured = await capture(client.backend, op, "first")
    assert (captured.total, captured.queues) == (20, ["default"])
    assert await client.purge_dead(job_id=ids[0]) == 1
    assert await client.requeue_dead(job_id=ids[1]) == 1
    await asyncio.sleep(0.01)  # its 1 ms lease runs out: the next runner takes over
    done = await ops.run(op.id)
    assert done.counts == {"requeued": 18, "not_dead": 2} and done.processed == 20
    q = Keyspace(prefix).queue("default")
    assert history_marks(raw, q, ids[1]) == ["dead", "requeued"]  # once, by hand
    assert raw.zcard(q.ready) == 19


async def test_cancel_stops_it_between_batches_and_nothing_moves_after(
    client: Client, ops: Operations, raw: redis.Redis, prefix: str
) -> None:
    ids = await make_dead(client, 50)
    op = await ops.create("purge")
    store = client.backend.operations
    assert await store.claim("tok", 60_000, op.id)
    captured = await capture(client.backend, op, "tok")
    step = await store.batch("default", op.id, "tok", captured.spec, 10)
    assert (step.cursor, step.size, step.state) == (10, 50, "more")
    cancelled = await ops.cancel(op.id)
    assert cancelled.state is OperationState.CANCELLED
    assert (cancelled.processed, cancelled.counts) == (10, {"purged": 10})
    again = await store.batch("default", op.id, "tok", captured.spec, 10)
    assert again.state == "cancelled" and again.cursor == 10
    assert await OperationRunner(client.backend).run_next(op.id) is None  # not runnable
    q = Keyspace(prefix).queue("default")
    assert raw.zcard(q.dead) == 40
    assert (await ops.get(op.id)).counts == {"purged": 10}
    assert (await ops.cancel(op.id)).state is OperationState.CANCELLED  # again: as it is
    assert not await store.renew(op.id, "tok", 60_000)  # its runner learns it lost it
    assert sum(1 for i in ids if raw.exists(q.job(i))) == 40


async def test_a_dry_run_counts_what_would_happen_and_changes_no_job(
    client: Client, ops: Operations, raw: redis.Redis, prefix: str
) -> None:
    ids = await make_dead(client, 12)
    q = Keyspace(prefix).queue("default")
    raw.hdel(q.job(ids[0]), "args")
    before = {i: raw.hgetall(q.job(i)) for i in ids}
    for kind, counts in (
        ("requeue", {"requeued": 11, "invalid": 1}),
        ("purge", {"purged": 12}),
        ("resolve", {"resolved": 12}),
    ):
        op = await ops.create(kind, dry_run=True)
        done = await ops.run(op.id)
        assert done.spec.dry_run and done.counts == counts, kind
    assert {i: raw.hgetall(q.job(i)) for i in ids} == before
    assert raw.zcard(q.dead) == 12 and raw.zcard(q.ready) == 0


async def test_the_same_idempotency_key_gives_the_same_operation(
    client: Client, ops: Operations
) -> None:
    await make_dead(client, 3)
    first = await ops.create("requeue", JobFilter(task="t"), idempotency_key="k-1", actor="a")
    again = await ops.create("requeue", JobFilter(task="t"), idempotency_key="k-1", actor="b")
    assert again.id == first.id and again.spec.actor == "a"
    with pytest.raises(OperationConflict, match="k-1") as caught:
        await ops.create("purge", JobFilter(task="t"), idempotency_key="k-1")
    assert caught.value.operation_id == first.id
    other = await ops.create("requeue", JobFilter(task="t"), idempotency_key="k-2")
    assert other.id != first.id
    assert [op.id for op in await ops.list()] == [other.id, first.id]  # newest first


async def test_purge_and_resolve_act_on_the_dead_jobs_only(
    client: Client, ops: Operations, raw: redis.Redis, prefix: str
) -> None:
    gone = await make_dead(client, 6, task="old")
    kept = await make_dead(client, 4, task="new")
    q = Keyspace(prefix).queue("default")
    purged = await ops.run((await ops.create("purge", JobFilter(task="old"))).id)
    assert purged.counts == {"purged": 6}
    assert not any(raw.exists(q.job(i)) for i in gone)
    op = await ops.create("resolve", JobFilter(task="new"), edits={"note": "known outage"})
    resolved = await ops.run(op.id)
    assert resolved.counts == {"resolved": 4}
    assert {raw.hget(q.job(i), "rnote") for i in kept} == {"known outage"}
    assert statuses(raw, prefix, kept) == {"dead"}


async def test_a_requeue_across_queues_with_a_new_priority(
    client: Client, ops: Operations, raw: redis.Redis, prefix: str
) -> None:
    mail = await make_dead(client, 5, queue="mail")
    bills = await make_dead(client, 3, queue="bills")
    op = await ops.create("requeue", edits={"priority": 7})
    done = await ops.run(op.id, batch_size=2)
    assert done.queues == ["bills", "mail"] and done.counts == {"requeued": 8}
    keys = Keyspace(prefix)
    for queue, ids in (("mail", mail), ("bills", bills)):
        assert {raw.hget(keys.queue(queue).job(i), "prio") for i in ids} == {"7"}
        assert statuses(raw, prefix, ids, queue) == {"queued"}


async def test_bad_requests_are_refused_and_store_nothing(client: Client, ops: Operations) -> None:
    with pytest.raises(ConfigurationError, match="dead jobs; the filter says status succeeded"):
        await ops.create("requeue", JobFilter(status=JobStatus.SUCCEEDED))
    with pytest.raises(ConfigurationError, match="priority applies to requeue, not purge"):
        await ops.create("purge", edits={"priority": 1})
    with pytest.raises(ConfigurationError, match=r"within -1000\.\.1000"):
        await ops.create("requeue", edits={"priority": 5000})
    with pytest.raises(ConfigurationError, match="unknown edit 'args'"):
        await ops.create("requeue", edits={"args": [1]})
    with pytest.raises(ConfigurationError, match="unknown operation kind 'retry-all'"):
        await ops.create("retry-all")
    with pytest.raises(ConfigurationError, match="idempotency key"):
        await ops.create("requeue", idempotency_key="")
    assert await ops.list() == []
    with pytest.raises(OperationNotFound):
        await ops.get("nope")
    with pytest.raises(OperationNotFound):
        await ops.cancel("nope")


async def test_a_runner_serves_operations_as_they_are_created(
    client: Client, ops: Operations
) -> None:
    await make_dead(client, 25)
    stop = asyncio.Event()
    runner = OperationRunner(client.backend, batch_size=10, idle_wait=2)
    serving = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.sleep(0.05)  # it is waiting on the doorbell now
        op = await ops.create("requeue")
        done = await ops.wait(op.id, timeout=10)
        assert done.state is OperationState.DONE and done.counts == {"requeued": 25}
        empty = await ops.wait((await ops.create("purge")).id, timeout=10)
        assert (empty.state, empty.total, empty.counts) == (OperationState.DONE, 0, {})
        assert empty.to_dict()["progress"]["fraction"] == 1.0
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=10)


async def test_a_filter_given_as_text_with_a_negation(
    client: Client, ops: Operations, raw: redis.Redis, prefix: str
) -> None:
    sent = await make_dead(client, 4, task="send", error="connection reset")
    billed = await make_dead(client, 3, task="bill", error="connection reset")
    other = await make_dead(client, 2, task="send", error="bad address")
    op = await ops.create("requeue", 'error:"connection reset" -task:bill')
    assert op.spec.filter_text == 'status:dead error:"connection reset" -task:bill'
    done = await ops.run(op.id)
    assert done.counts == {"requeued": 4}
    assert statuses(raw, prefix, sent) == {"queued"}
    assert statuses(raw, prefix, billed + other) == {"dead"}
