"""Bulk operations from Python: create, read, list, cancel and run them.

```
from chronoq.bulk import operations
from chronoq.observe.filters import format_filter, parse_filter
from chronoq.observe.search import JobFilter

async with operations(app) as ops:
    op = await ops.create("requeue", JobFilter(task="send", queue="mail"), actor="ops")
    op = await ops.wait(op.id)          # a runner (the API process) does the work
with operations(app) as ops:            # sync code
    print(ops.get(op_id).to_dict())
```

`chronoq.bulk` sits above `chronoq.observe` (it captures through the job search),
which is above `App`: so the handle is `operations(app)`, not a method of App.
"""

from __future__ import annotations

import asyncio
import builtins
from dataclasses import replace
from typing import Any

from chronoq.app import App
from chronoq.bulk.runner import OperationRunner, audit_entry
from chronoq.client import Client
from chronoq.core.errors import ConfigurationError, OperationNotFound
from chronoq.core.ids import new_job_id
from chronoq.core.job import JobStatus
from chronoq.core.operations import (
    Edits,
    Operation,
    OperationKind,
    OperationSpec,
    OperationState,
    check_idempotency_key,
)
from chronoq.loop_thread import LoopThread
from chronoq.manage import Handle, _Opened, _SyncFacade
from chronoq.observe.filters import format_filter, parse_filter
from chronoq.observe.search import JobFilter
from chronoq.redis.backend import Backend

LIST_MAX = 1000
Kind = OperationKind | str
EditsLike = Edits | dict[str, Any] | None


def dead_filter(where: JobFilter | None) -> JobFilter:
    """A bulk operation acts on dead jobs: no status means dead; another is an error."""
    where = where or JobFilter()
    if where.status is None:
        return replace(where, status=JobStatus.DEAD)
    if where.status is not JobStatus.DEAD:
        raise ConfigurationError(
            f"bulk operations act on dead jobs; the filter says status {where.status.value}"
        )
    return where


class Operations(_Opened):
    """Bulk operations over one client's connections (`operations(app)` opens one)."""

    def __init__(self, client: Client, timezone: str = "UTC") -> None:
        super().__init__(client, timezone)

    @property
    def backend(self) -> Backend:
        return self.client.backend

    async def create(
        self,
        kind: Kind,
        where: JobFilter | str | None = None,
        *,
        edits: EditsLike = None,
        actor: str = "",
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> Operation:
        """Create an operation acting on every dead job `where` matches (a JobFilter,
        or its text in the filter grammar, e.g. 'task:send -account:acme'; every
        dead job when None): pending until a runner claims it. The same
        `idempotency_key` with the same request returns the operation it made (with
        another request: OperationConflict)."""
        chosen = kind if isinstance(kind, OperationKind) else OperationKind.parse(kind)
        changes = edits if isinstance(edits, Edits) else Edits.from_dict(edits or {})
        parsed = parse_filter(where) if isinstance(where, str) else where
        chosen_filter = dead_filter(parsed)
        text = format_filter(chosen_filter)
        spec = OperationSpec(chosen, chosen_filter.to_dict(), changes, actor, dry_run, text)
        key = check_idempotency_key(idempotency_key)
        made = await self.backend.operations.create(new_job_id("~ops"), spec, key)
        op = await self.get(made.operation_id)
        if made.created:
            await self._audit(op, "operations.create", actor)
        return op

    async def _audit(self, op: Operation, action: str, actor: str) -> None:
        await self.backend.access.record(audit_entry(op, action, actor))

    async def get(self, operation_id: str) -> Operation:
        found = await self.backend.operations.get(operation_id)
        if found is None:
            raise OperationNotFound(f"no operation with id {operation_id!r}")
        return found

    async def list(
        self, *, limit: int = 50, before_ms: int | None = None
    ) -> builtins.list[Operation]:
        """Newest first; `before_ms`: created before then (the next page)."""
        if not 1 <= limit <= LIST_MAX:
            raise ConfigurationError(f"limit must be within 1..{LIST_MAX}, got {limit}")
        return await self.backend.operations.recent(limit, before_ms)

    async def cancel(self, operation_id: str, *, actor: str = "") -> Operation:
        """Cancel it: once this returns no more jobs are acted on for it (what was done
        stays done). A finished operation is returned as it is."""
        store = self.backend.operations
        before = await self.get(operation_id)
        reply = await store.cancel(operation_id)
        if reply is None:
            raise OperationNotFound(f"no operation with id {operation_id!r}")
        state, capture, _ = reply
        op = await self.get(operation_id)
        if state is OperationState.CANCELLED and not before.state.is_final:
            if capture:  # its counts, kept in the record
                await store.keep_counts(operation_id, op.processed, op.counts)
            await self._audit(op, "operations.cancel", actor)
        return op

    async def run(self, operation_id: str, **runner: Any) -> Operation:
        """Run it in this process, now, to its end, unless another runner holds it
        (then wait for that one). Returns it as it ended."""
        worker = OperationRunner(self.backend, **runner)
        await worker.run_next(operation_id)
        return await self.wait(operation_id)

    async def wait(
        self, operation_id: str, *, timeout: float | None = None, poll: float = 0.2
    ) -> Operation:
        """The operation once it is done, cancelled or failed (TimeoutError after
        `timeout` seconds)."""
        async with asyncio.timeout(timeout):
            while True:
                op = await self.get(operation_id)
                if op.state.is_final:
                    return op
                await asyncio.sleep(poll)


class SyncOperations(_SyncFacade[Operations]):
    def create(self, kind: Kind, where: JobFilter | str | None = None, **options: Any) -> Operation:
        return self._run(self._async.create(kind, where, **options))

    def get(self, operation_id: str) -> Operation:
        return self._run(self._async.get(operation_id))

    def list(self, *, limit: int = 50, before_ms: int | None = None) -> builtins.list[Operation]:
        return self._run(self._async.list(limit=limit, before_ms=before_ms))

    def cancel(self, operation_id: str, *, actor: str = "") -> Operation:
        return self._run(self._async.cancel(operation_id, actor=actor))

    def run(self, operation_id: str, **runner: Any) -> Operation:
        return self._run(self._async.run(operation_id, **runner))

    def wait(self, operation_id: str, *, timeout: float | None = None) -> Operation:
        return self._run(self._async.wait(operation_id, timeout=timeout))


OperationsHandle = Handle[Operations, SyncOperations]


def operations(app: App) -> OperationsHandle:
    """`async with operations(app) as ops` / `with operations(app) as ops`."""
    return Handle(app.client, app.timezone, Operations, _sync)


def _sync(opened: Operations, thread: LoopThread) -> SyncOperations:
    return SyncOperations(opened, thread)
