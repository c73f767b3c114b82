"""Bulk operations on a Redis Cluster: an operation over queues in different slots
(each script touches one slot: the record's `{~ops}`, or one queue's)."""

from __future__ import annotations

from chronoq import Client
from chronoq.bulk import Operations
from chronoq.core.operations import OperationState
from tests.bulk.helpers import make_dead


async def test_a_requeue_across_queues_in_different_slots(cluster_client: Client) -> None:
    queues = ["mail", "bills", "sms"]
    for queue in queues:
        await make_dead(cluster_client, 30, queue=queue)
    ops = Operations(cluster_client)
    op = await ops.create("requeue", "-queue:sms", idempotency_key="c-1")
    done = await ops.run(op.id, batch_size=7)
    assert done.state is OperationState.DONE, done.error
    assert done.queues == ["bills", "mail"] and done.counts == {"requeued": 60}
    counts = {q.queue: q.dead for q in await cluster_client.queues()}
    assert counts == {"mail": 0, "bills": 0, "sms": 30}
    cancelled = await ops.cancel((await ops.create("purge")).id)
    assert cancelled.state is OperationState.CANCELLED
    assert [o.id for o in await ops.list()] == [cancelled.id, op.id]
