"""Commands on jobs and queues: enqueue, job, jobs, cancel, queues, workers."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any, TypeVar

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
    parse_json,
    read_json_option,
)
from chronoq.cli.render import (
    enqueued_dict,
    job_table,
    jobs_table,
    queue_counts_dict,
    queues_table,
    timeline_table,
    workers_table,
)
from chronoq.cli.workflows import render_tree
from chronoq.client import Client, JobRequest
from chronoq.core.errors import ChronoqError, JobNotFound
from chronoq.core.job import JobStatus
from chronoq.core.serialization import NestingTooDeep
from chronoq.observe.cleanup import cleanup as run_cleanup
from chronoq.observe.filters import parse_filter
from chronoq.observe.jobs import JobHistory, job_history
from chronoq.observe.search import PAGE_MAX, JobSearch, parse_moment
from chronoq.workflows import Workflows

T = TypeVar("T")
STATUSES = ", ".join(s.value for s in JobStatus)


def enqueue(
    task: Annotated[str, typer.Argument(help="Task name, as registered with @app.task.")],
    args: Annotated[
        str,
        typer.Option(
            "--args", help="Positional arguments: a JSON array, @file.json, or - for stdin."
        ),
    ] = "[]",
    kwargs: Annotated[
        str,
        typer.Option(
            "--kwargs", help="Keyword arguments: a JSON object, @file.json, or - for stdin."
        ),
    ] = "{}",
    queue: Annotated[
        str | None, typer.Option("--queue", help="Queue (default: the task's).")
    ] = None,
    priority: Annotated[int | None, typer.Option("--priority", help="Higher runs first.")] = None,
    delay: Annotated[
        float | None, typer.Option("--in", help="Run after this many seconds.", min=0)
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Run at this ISO 8601 time, with its offset.")
    ] = None,
    unique: Annotated[
        str | None, typer.Option("--unique", help="Unique key: no copy while one waits or runs.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Enqueue a task no worker has registered yet.")
    ] = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Enqueue one job, with the task's own options (queue, retries, lock, quota, ...)
    as its workers registered them; an unknown task is refused unless --force."""
    if delay is not None and at is not None:
        raise CliError("give either --in or --at, not both")
    if args == kwargs == "-":
        raise CliError("only one of --args and --kwargs can be read from stdin")
    request = JobRequest(
        task,
        args=parse_json(read_json_option(args, "--args"), "--args", list),
        kwargs=parse_json(read_json_option(kwargs, "--kwargs"), "--kwargs", dict),
        queue=queue,
        priority=priority,
        delay=delay,
        at=_parse_at(at) if at is not None else None,
        unique_key=unique,
        force=force,
    )
    job = Target.resolve(app, redis_url, prefix).with_client(lambda c: c.submit(request))
    if json_out:
        emit_json(enqueued_dict(job))
        return
    note = "" if job.created else " (unique key: an existing job)"
    console().print(f"{job.id} {job.status.value} on queue {job.queue}{note}")


def _parse_at(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--at {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise CliError(f"--at {text!r} has no UTC offset; add one, e.g. {text}+00:00")
    return moment


def job(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job id.")],
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one job: its status, times, result or error with traceback, and the
    timeline of its attempts (retries, lost workers, hand-backs, deferrals, requeues)."""
    found, flow = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: readable(_job_and_workflow(c, job_id), f"job {job_id}")
    )
    if json_out:
        shown = found.to_dict() if flow is None else {**found.to_dict(), "workflow_tree": flow}
        emit_readable_json(shown, f"job {job_id}")
    else:
        console().print(job_table(found.job))
        console().print(timeline_table(found))
        if flow is not None:
            console().print(render_tree(flow))


async def _job_and_workflow(client: Client, job_id: str) -> tuple[JobHistory, Any]:
    """The job's history, and the tree of its workflow when it is a step of one."""
    found = await job_history(client.inspector, job_id)
    marker = found.job.workflow
    if marker is None:
        return found, None
    try:
        flow = await Workflows(client).show(marker.partition("/")[0])
    except JobNotFound:  # the workflow's record is gone (deleted); the job stays
        flow = None
    return found, flow


async def readable(read: Awaitable[T], what: str) -> T:
    """Await a read of job records. A record another client wrote badly (a result nested
    1,000 deep, say) becomes one line naming it, never a traceback."""
    try:
        return await read
    except NestingTooDeep as exc:
        raise CliError(f"{what} cannot be shown: {exc}") from None
    except ChronoqError:
        raise  # not found, bad settings: the usual one-line errors
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise CliError(f"{what} cannot be shown: {exc}") from None


def emit_readable_json(value: Any, what: str) -> None:
    try:
        emit_json(value)
    except (RecursionError, ValueError) as exc:
        raise CliError(f"{what} cannot be shown as JSON: {type(exc).__name__}") from None


def parse_status(text: str | None) -> JobStatus | None:
    if text is None:
        return None
    try:
        return JobStatus(text)
    except ValueError:
        raise CliError(f"unknown status {text!r}; choose one of: {STATUSES}") from None


def jobs(
    status: Annotated[str | None, typer.Option("--status", help=f"One of: {STATUSES}.")] = None,
    queue: Annotated[str | None, typer.Option("--queue", help="Only this queue.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Only jobs of this task.")] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="Only jobs of this account.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Finished at or after: 2h, 30m (ago) or ISO 8601 with offset."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Finished before: 1h (ago) or ISO 8601.")
    ] = None,
    error_contains: Annotated[
        str | None,
        typer.Option("--error-contains", help="Only jobs whose error contains this text."),
    ] = None,
    filter_text: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help='The shared filter grammar: task:T status:S -account:A since:2h error:"text".',
        ),
    ] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="The next page: the cursor a search printed.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1)] = 50,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """List jobs, newest first. With --task, --account, --since, --until,
    --error-contains or --filter, search the history of finished and dead jobs (by their
    indexes, in pages: --cursor continues where a page ended)."""
    wanted = parse_status(status)
    target = Target.resolve(app, redis_url, prefix)
    searching = any(
        v is not None for v in (task, account, since, until, error_contains, cursor, filter_text)
    )
    if not searching:
        found = target.with_client(
            lambda c: readable(c.jobs(status=wanted, queue=queue, limit=limit), "a job record")
        )
        if json_out:
            emit_readable_json([j.to_dict() for j in found], "the jobs")
        else:
            console().print(jobs_table(found))
        return
    where = parse_filter(
        filter_text or "",
        task=task,
        status=wanted,
        queue=queue,
        account=account,
        since=parse_moment(since, "--since") if since is not None else None,
        until=parse_moment(until, "--until") if until is not None else None,
        error_contains=error_contains,
    )
    page = target.with_client(
        lambda c: readable(
            JobSearch(c.backend).search(where, limit=min(limit, PAGE_MAX), cursor=cursor),
            "a job record",
        )
    )
    if json_out:
        emit_readable_json(page.to_dict(), "the jobs")
        return
    console().print(jobs_table(page.jobs))
    if page.next_cursor:
        console().print(f"more: --cursor {page.next_cursor}")


def cancel(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job id.")],
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cancel a job: a waiting one at once; a running one on whichever worker runs it
    (the task sees the request; after the worker's cancel grace it is stopped)."""
    target = Target.resolve(app, redis_url, prefix)
    reply = target.with_client(lambda c: c.cancel(job_id))
    if json_out:
        emit_json({"id": job_id, "status": reply})
    elif reply == "cancelling":
        grace = target.app.settings.cancel_grace
        console().print(f"{job_id} cancelling: its worker stops it (at the latest {grace:g}s on)")
    else:
        console().print(f"{job_id} cancelled")


def queues(
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Per queue: waiting, scheduled, running and dead jobs."""
    counts = Target.resolve(app, redis_url, prefix).with_client(lambda c: c.queues())
    if json_out:
        emit_json([queue_counts_dict(row) for row in counts])
    else:
        console().print(queues_table(counts))


def workers(
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Live workers, from their heartbeats."""
    found = Target.resolve(app, redis_url, prefix).with_client(lambda c: c.workers())
    if json_out:
        emit_json(found)
    else:
        console().print(workers_table(found))


def cleanup(
    days: Annotated[
        float,
        typer.Option("--days", help="Forget finished jobs older than this many days.", min=0),
    ],
    queue: Annotated[str | None, typer.Option("--queue", help="Only this queue.")] = None,
    dead: Annotated[
        bool, typer.Option("--dead", help="Dead jobs too (else kept until requeued or purged).")
    ] = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Trim by hand what workers trim on their own: finished jobs older than --days
    (and those beyond each state's count in CHRONOQ_RETENTION_BY_STATE), with their
    results and history. Each queue's 'trimmed' counter counts them."""
    done = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: run_cleanup(c, days=days, queue=queue, dead=dead)
    )
    if json_out:
        emit_json(done.to_dict())
        return
    for name, by_state in done.removed.items():
        parts = ", ".join(f"{n} {s.value}" for s, n in by_state.items() if n) or "nothing"
        console().print(f"{name}: trimmed {parts} (trimmed so far: {done.counters.get(name, 0)})")
    console().print(f"trimmed {done.total} job(s)")
