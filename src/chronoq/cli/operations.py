"""`chronoq operations list|show|cancel|run`: bulk operations over dead jobs (made
by `chronoq dlq requeue|purge --as-operation`, the HTTP API or the dashboard)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from chronoq.bulk import OperationRunner, Operations
from chronoq.cli.common import (
    AppOption,
    JsonOption,
    PrefixOption,
    RedisUrlOption,
    Target,
    console,
    emit_json,
)
from chronoq.core.operations import Operation, OperationKind
from chronoq.observe.search import JobFilter

T = TypeVar("T")

operations = typer.Typer(
    help="Bulk operations: requeue, purge or resolve every dead job a filter matches.",
    no_args_is_help=True,
)
IdArgument = Annotated[str, typer.Argument(metavar="ID", help="Operation id.")]
BatchOption = Annotated[
    int | None,
    typer.Option(
        "--batch-size", help="Jobs per script call (CHRONOQ_OPERATIONS_BATCH_SIZE).", min=1,
        max=10_000, show_default=False,
    ),
]  # fmt: skip
PauseOption = Annotated[
    float | None,
    typer.Option(
        "--pause", help="Seconds between batches (CHRONOQ_OPERATIONS_PAUSE).", min=0,
        show_default=False,
    ),
]  # fmt: skip


def with_operations(target: Target, action: Callable[[Operations], Awaitable[T]]) -> T:
    return target.with_client(lambda client: action(Operations(client)))


@operations.command("list")
def list_operations(
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1)] = 20,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """The newest operations first, with their state and progress."""
    found = with_operations(Target.resolve(app, redis_url, prefix), lambda o: o.list(limit=limit))
    if json_out:
        emit_json([op.to_dict() for op in found])
        return
    table = Table(title="operations")
    for column in ("id", "kind", "state", "progress", "counts", "filter", "by", "created"):
        table.add_column(column)
    for op in found:
        data = op.to_dict()
        table.add_row(op.id, _kind(op), op.state.value, _progress(op), _counts(op),
                      op.spec.filter_text, op.spec.actor, data["created"])  # fmt: skip
    console().print(table)


@operations.command()
def show(
    operation_id: IdArgument,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """One operation: what it was asked, where it is, what it did."""
    op = with_operations(Target.resolve(app, redis_url, prefix), lambda o: o.get(operation_id))
    _print(op, json_out)


@operations.command()
def cancel(
    operation_id: IdArgument,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Stop it at its next batch; what it did stays done."""
    op = with_operations(
        Target.resolve(app, redis_url, prefix), lambda o: o.cancel(operation_id, actor="cli")
    )
    _print(op, json_out)


@operations.command()
def run(
    once: Annotated[bool, typer.Option("--once", help="Run those waiting now, then exit.")] = False,
    batch_size: BatchOption = None,
    pause: PauseOption = None,
    lease: Annotated[
        float | None,
        typer.Option(
            "--lease",
            help="Seconds before a killed runner's work is resumed (CHRONOQ_OPERATIONS_LEASE).",
            show_default=False,
        ),
    ] = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
) -> None:
    """Run operations as they are created, until SIGTERM or SIGINT (the API process
    runs them too: this is for deployments without one)."""
    target = Target.resolve(app, redis_url, prefix)
    settings = target.app.settings
    size = settings.operations_batch_size if batch_size is None else batch_size
    gap = settings.operations_pause if pause is None else pause
    held = settings.operations_lease if lease is None else lease

    async def go() -> None:
        async with target.app.client() as client:
            runner = OperationRunner(client.backend, batch_size=size, lease=held, pause=gap)
            if once:
                while await runner.run_next() is not None:
                    pass
                return
            await _until_signalled(runner)

    asyncio.run(go())


async def _until_signalled(runner: OperationRunner) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runner.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def run_as_operation(
    target: Target,
    kind: OperationKind,
    where: JobFilter,
    *,
    detach: bool,
    dry_run: bool,
    json_out: bool,
) -> None:
    """`chronoq dlq requeue|purge --as-operation`: create the operation and, unless
    `detach`, run it here to its end (killed, any runner resumes it)."""

    async def go(ops: Operations) -> Operation:
        op = await ops.create(kind, where, actor="cli", dry_run=dry_run)
        if detach:
            return op
        settings = target.app.settings
        return await ops.run(op.id, batch_size=settings.operations_batch_size,
                             lease=settings.operations_lease)  # fmt: skip

    _print(with_operations(target, go), json_out)


def _print(op: Operation, json_out: bool) -> None:
    if json_out:
        emit_json(op.to_dict())
        return
    data: dict[str, Any] = op.to_dict()
    table = Table(show_header=False, title=f"operation {op.id}")
    table.add_column("field")
    table.add_column("value")
    rows = [("kind", _kind(op)), ("state", op.state.value), ("progress", _progress(op)),
            ("counts", _counts(op)), ("filter", op.spec.filter_text),
            ("edits", str(data["edits"] or "")), ("by", op.spec.actor),
            ("created", data["created"]), ("updated", data["updated"])]  # fmt: skip
    if op.error:
        rows.append(("error", op.error))
    for name, value in rows:
        table.add_row(name, value)
    console().print(table)


def _kind(op: Operation) -> str:
    return op.kind.value + (" (dry run)" if op.spec.dry_run else "")


def _progress(op: Operation) -> str:
    return f"{op.processed}/{'?' if op.total is None else op.total}"


def _counts(op: Operation) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(op.counts.items())) or "-"
