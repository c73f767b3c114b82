"""`chronoq dlq`: the dead-letter queue."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from chronoq.cli.common import (
    AppOption,
    CliError,
    JsonOption,
    PrefixOption,
    RedisUrlOption,
    Target,
    console,
    emit_json,
    flush_quietly,
)
from chronoq.cli.jobs import emit_readable_json, readable
from chronoq.cli.operations import run_as_operation
from chronoq.cli.render import groups_table, job_table, jobs_table
from chronoq.core.errors import ConfigurationError
from chronoq.core.failures import ErrorClass
from chronoq.core.job import JobStatus
from chronoq.core.operations import OperationKind
from chronoq.observe.failures import FailureGroups
from chronoq.observe.failures import process_dlq as run_process_dlq
from chronoq.observe.filters import parse_filter
from chronoq.observe.search import JobFilter
from chronoq.schedule.spec import parse_duration

dlq = typer.Typer(help="The dead-letter queue: jobs out of retries.", no_args_is_help=True)

QueueOption = Annotated[str | None, typer.Option("--queue", help="Only this queue.")]
OptionalId = Annotated[str | None, typer.Argument(metavar="[ID]", help="One dead job.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead job (of --queue, if given).")]
FilterOption = Annotated[
    str | None,
    typer.Option("--filter", help="With --as-operation: a filter, e.g. 'task:send -account:a'."),
]
AsOperationOption = Annotated[
    bool,
    typer.Option(
        "--as-operation",
        help="Run as a bulk operation: a frozen set, progress, resumable if killed.",
    ),
]
DetachOption = Annotated[
    bool,
    typer.Option("--detach", help="With --as-operation: leave it to the API's runner."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="With --as-operation: count what it would do.")
]


@dlq.command("list")
def list_dead(
    queue: QueueOption = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1)] = 50,
    group: Annotated[
        bool, typer.Option("--group", help="Failure groups instead of jobs (by fingerprint).")
    ] = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """List dead jobs, newest first, with their last error; --group: failures grouped
    by fingerprint (task, exception type, masked message), with their class, count,
    dead jobs, first and last seen, the accounts affected and whether resolved."""
    target = Target.resolve(app, redis_url, prefix)
    if group:
        groups = target.with_client(lambda c: FailureGroups(c.backend).list(queue=queue))
        groups = groups[:limit]
        if json_out:
            emit_json([g.to_dict() for g in groups])
        else:
            console().print(groups_table(groups))
        return
    found = target.with_client(lambda c: c.dead_jobs(queue=queue, limit=limit))
    if json_out:
        emit_json([j.to_dict() for j in found])
    else:
        console().print(jobs_table(found, title="dead jobs"))


@dlq.command("resolve")
def resolve(
    job_id: OptionalId = None,
    group: Annotated[
        str | None,
        typer.Option("--group", help="A failure group's fingerprint (dlq list --group)."),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Why, or what was done.")] = "",
    queue: QueueOption = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Mark a dead job, or a failure group, handled (a group failing again reopens)."""
    if (job_id is None) == (group is None):
        raise CliError("give a dead job ID or --group G (one of them)")
    target = Target.resolve(app, redis_url, prefix)
    if group is not None:
        fingerprint = group
        target.with_client(
            lambda c: FailureGroups(c.backend).resolve_group(fingerprint, note, queue)
        )
        what = {"group": group, "resolved": True, "note": note}
    else:
        one = job_id or ""
        target.with_client(lambda c: FailureGroups(c.backend).resolve_job(one, note, queue))
        what = {"id": job_id, "resolved": True, "note": note}
    if json_out:
        emit_json(what)
    else:
        console().print(f"{group or job_id} resolved" + (f": {note}" if note else ""))


@dlq.command("show")
def show(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job id.")],
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one dead job with its error and traceback."""
    found = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: readable(c.job(job_id), f"job {job_id}")
    )
    if found.status is not JobStatus.DEAD:
        raise CliError(f"job {job_id} is {found.status.value}, not dead")
    if json_out:
        emit_readable_json(found.to_dict(), f"job {job_id}")
    else:
        console().print(job_table(found))


def _selection(job_id: str | None, every: bool, verb: str, filtered: bool = False) -> None:
    if job_id is None and not every and not filtered:
        hint = " (or filters: --task, --error-contains, --since)" if verb == "requeue" else ""
        raise CliError(f"give a job ID to {verb}, or --all{hint}")
    if job_id is not None and every:
        raise CliError("give a job ID or --all, not both")


def _since(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ConfigurationError:
        raise CliError(f"--since {text!r} is not a duration; write it like 30m, 1h or 2d") from None


@dlq.command("requeue")
def requeue(
    job_id: OptionalId = None,
    every: AllOption = False,
    queue: QueueOption = None,
    task: Annotated[str | None, typer.Option("--task", help="Only jobs of this task.")] = None,
    error_contains: Annotated[
        str | None,
        typer.Option("--error-contains", help="Only jobs whose error contains this text."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only jobs dead within this long: 30m, 1h, 2d.")
    ] = None,
    filter_text: FilterOption = None,
    as_operation: AsOperationOption = False,
    detach: DetachOption = False,
    dry_run: DryRunOption = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Put dead jobs back on their queue. Attempts are kept (a job dead after 4 runs
    next as attempt 5) and it gets its retries again. --as-operation: as a bulk
    operation over the set frozen now, with progress, resumable (chronoq operations)."""
    filtered = task is not None or error_contains is not None or since is not None
    filtered = filtered or filter_text is not None
    _selection(job_id, every, "requeue", filtered)
    within = _since(since)
    if as_operation or detach or dry_run or filter_text is not None:
        where = _operation_filter(job_id, as_operation, filter_text, queue, task, error_contains,
                                  within)  # fmt: skip
        target = Target.resolve(app, redis_url, prefix)
        run_as_operation(target, OperationKind.REQUEUE, where, detach=detach, dry_run=dry_run,
                         json_out=json_out)  # fmt: skip
        return
    count = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: c.requeue_dead(
            queue=queue, job_id=job_id, task=task, error_contains=error_contains, since=within
        )
    )
    _report(count, "requeued", job_id, json_out)


@dlq.command("purge")
def purge(
    job_id: OptionalId = None,
    every: AllOption = False,
    queue: QueueOption = None,
    filter_text: FilterOption = None,
    as_operation: AsOperationOption = False,
    detach: DetachOption = False,
    dry_run: DryRunOption = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Delete dead jobs for good. --as-operation: as a bulk operation (see requeue)."""
    _selection(job_id, every, "purge", filter_text is not None)
    if as_operation or detach or dry_run or filter_text is not None:
        where = _operation_filter(job_id, as_operation, filter_text, queue, None, None, None)
        target = Target.resolve(app, redis_url, prefix)
        run_as_operation(target, OperationKind.PURGE, where, detach=detach, dry_run=dry_run,
                         json_out=json_out)  # fmt: skip
        return
    count = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: c.purge_dead(queue=queue, job_id=job_id)
    )
    _report(count, "purged", job_id, json_out)


def _operation_filter(
    job_id: str | None,
    as_operation: bool,
    text: str | None,
    queue: str | None,
    task: str | None,
    error_contains: str | None,
    within: timedelta | None,
) -> JobFilter:
    """The filter of `--as-operation` (with `--filter` text, the flags add to it)."""
    if not as_operation:
        raise CliError("--filter, --detach and --dry-run go with --as-operation")
    if job_id is not None:
        raise CliError("an operation acts on a filter: give filters or --all, not a job ID")
    since = None if within is None else datetime.now(UTC) - within
    given: dict[str, Any] = {"queue": queue, "task": task, "error_contains": error_contains,
                             "since": since}  # fmt: skip
    try:
        return parse_filter(text or "", **given)
    except ConfigurationError as exc:
        raise CliError(str(exc)) from None


def _report(count: int, verb: str, job_id: str | None, json_out: bool) -> None:
    if job_id is not None and count == 0:
        raise CliError(f"job {job_id} is not in the dead-letter queue")
    if json_out:
        emit_json({verb: count})
    else:
        console().print(f"{count} job(s) {verb}")


def process_dlq(
    queue: QueueOption = None,
    classes: Annotated[
        list[str] | None,
        typer.Option(
            "--class",
            help="A class to requeue (repeat; default: the app's recoverable ones, "
            "network, timeout and rate_limited unless it says otherwise).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be requeued; change nothing.")
    ] = False,
    every: Annotated[
        str | None,
        typer.Option("--every", help="Run again at this interval (30m, 1h) until stopped."),
    ] = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Requeue the dead jobs whose error class is recoverable and leave the rest,
    saying what it did by class. With --every it keeps doing so on that schedule."""
    target = Target.resolve(app, redis_url, prefix)
    chosen = (
        [ErrorClass.parse(c) for c in classes]
        if classes
        else sorted(target.app.error_classes.recoverable)
    )
    interval = None
    if every is not None:
        try:
            interval = parse_duration(every).total_seconds()
        except ConfigurationError:
            raise CliError(
                f"--every {every!r} is not a duration; write it like 30m or 1h"
            ) from None
    while True:
        report = target.with_client(
            lambda c: run_process_dlq(c.backend, recoverable=chosen, queue=queue, dry_run=dry_run)
        )
        if json_out:
            emit_json(report.to_dict())
        else:
            console().print(report.summary())
        flush_quietly()
        if interval is None:
            return
        time.sleep(interval)
