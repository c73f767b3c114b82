"""Capturing an operation's frozen set: the ids its filter matches among jobs dead
by the time it was created, written per queue next to the jobs.

Until `captured` succeeds nothing reads the parts written here, so a runner killed
while capturing leaves nothing half-done: the next one captures again into parts
of its own (named by its token), and the dead one's expire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from chronoq.core.operations import Operation
from chronoq.observe.search import PAGE_MAX, JobFilter, JobSearch
from chronoq.redis.backend import Backend


class CaptureRefused(Exception):
    """The operation was cancelled, or taken over, while its set was being captured."""


async def capture(
    backend: Backend, op: Operation, token: str, check: Callable[[], None] = lambda: None
) -> Operation:
    """Write the set (parts named by `token`, whose runner holds the operation) and
    record it; returns the operation with its total and queues. `check` is called
    between pages (it raises when the runner lost the operation)."""
    store = backend.operations
    where = capture_filter(op)
    search = JobSearch(backend)
    sizes: dict[str, int] = {}
    cursor: str | None = None
    while True:
        check()
        found, cursor, _ = await search.matching(where, limit=PAGE_MAX, cursor=cursor)
        by_queue: dict[str, list[str]] = {}
        for queue, job_id in found:
            by_queue.setdefault(queue, []).append(job_id)
        for queue, ids in by_queue.items():
            await store.write_part(queue, op.id, token, ids)
            sizes[queue] = sizes.get(queue, 0) + len(ids)
        if cursor is None:
            break
    queues = sorted(sizes)
    await store.seal_parts(op.id, token, sizes)
    total = sum(sizes.values())
    if not await store.captured(op.id, token, total, queues):
        await store.drop_parts(op.id, token, queues)
        raise CaptureRefused(op.id)
    return replace(op, total=total, queues=queues)


def capture_filter(op: Operation) -> JobFilter:
    """The operation's filter, bounded to jobs dead by the time it was created: one
    dying later is not swept in (the dead index is scored by time of death)."""
    where = JobFilter.from_dict(op.spec.filter)
    created = datetime.fromtimestamp((op.created_ms + 1) / 1000, UTC)
    until = created if where.until is None else min(where.until, created)
    return replace(where, until=until)
