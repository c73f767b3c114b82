"""A bulk operation's capture of its frozen set with 1,000,000 dead jobs present,
timed in-process: the operation is created (a dry run: nothing is acted on),
claimed as a runner claims it, and `chronoq.bulk.capture.capture` writes its
parts; then it is cancelled and its parts dropped. For comparison, the search
walk (`JobSearch.matching` in pages of 1,000, what every capture did before the
index fast path) over the same filter, ids only, nothing written.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chronoq import App
from chronoq.bulk.capture import capture
from chronoq.bulk.operations import Operations
from chronoq.core.ids import new_token
from chronoq.core.job import JobStatus
from chronoq.observe.failures import FailureGroups
from chronoq.observe.search import PAGE_MAX, JobFilter, JobSearch

LEASE_MS = 600_000
NOWHERE = "\x00 no error has this text \x00"


def filters(group: str) -> dict[str, JobFilter]:
    dead = JobStatus.DEAD
    return {
        "status:dead (1,000,100)": JobFilter(status=dead),
        "status:dead queue:hist (1,000,100)": JobFilter(status=dead, queue="hist"),
        "status:dead task:task3 (~100,000)": JobFilter(status=dead, task="task3"),
        "status:dead error group (~10,000)": JobFilter(status=dead, error_group=group),
        "status:dead account:acct-7 (~1,000)": JobFilter(status=dead, account="acct-7"),
        "status:dead task:task3 error:quota (~10,000; text: the walk)": JobFilter(
            status=dead, task="task3", error_contains="quota"
        ),
    }


async def a_group(app: App) -> str:
    async with app.backend() as backend:
        groups = await FailureGroups(backend).list(queue="hist")
        return groups[0].fingerprint


async def timed_capture(app: App, where: JobFilter) -> dict[str, Any]:
    async with app.client() as client:
        ops = Operations(client)
        store = client.backend.operations
        op = await ops.create("requeue", where, actor="bench", dry_run=True)
        token = new_token()
        claimed = await store.claim(token, LEASE_MS, op.id)
        assert claimed is not None and claimed.operation_id == op.id, claimed
        began = time.perf_counter()
        captured = await capture(client.backend, op, token)
        seconds = time.perf_counter() - began
        await ops.cancel(op.id, actor="bench")
        await store.drop_parts(op.id, token, captured.queues)
    return {"seconds": round(seconds, 3), "ids": captured.total}


async def timed_walk(app: App, where: JobFilter, created_ms: int) -> dict[str, Any]:
    """The search walk over the filter (bounded like a capture), ids only: each id's
    record checked, as every capture did before the index fast path. An exact
    filter would take the index's entries unchecked now, so a negated text no job
    has (`NOWHERE`) is added: the same matches, through the per-id check."""
    async with app.backend() as backend:
        search = JobSearch(backend)
        bounded = replace(capture_filter_at(where, created_ms), not_error_contains=(NOWHERE,))
        began, total, cursor = time.perf_counter(), 0, None
        while True:
            found, cursor, _ = await search.matching(bounded, limit=PAGE_MAX, cursor=cursor)
            total += len(found)
            if cursor is None:
                break
        return {"seconds": round(time.perf_counter() - began, 3), "ids": total}


def capture_filter_at(where: JobFilter, created_ms: int) -> JobFilter:
    """As `capture_filter` bounds an operation's filter: dead by `created_ms`."""
    return replace(where, until=datetime.fromtimestamp((created_ms + 1) / 1000, UTC))
