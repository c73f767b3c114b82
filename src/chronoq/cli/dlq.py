"""`chronoq dlq`: the dead-letter queue."""

from __future__ import annotations

from typing import Annotated

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
)
from chronoq.cli.render import job_table, jobs_table
from chronoq.core.job import JobStatus

dlq = typer.Typer(help="The dead-letter queue: jobs out of retries.", no_args_is_help=True)

QueueOption = Annotated[str | None, typer.Option("--queue", help="Only this queue.")]
OptionalId = Annotated[str | None, typer.Argument(metavar="[ID]", help="One dead job.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead job (of --queue, if given).")]


@dlq.command("list")
def list_dead(
    queue: QueueOption = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1)] = 50,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """List dead jobs, newest first, with their last error."""
    found = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: c.dead_jobs(queue=queue, limit=limit)
    )
    if json_out:
        emit_json([j.to_dict() for j in found])
    else:
        console().print(jobs_table(found, title="dead jobs"))


@dlq.command("show")
def show(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job id.")],
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one dead job with its error and traceback."""
    found = Target.resolve(app, redis_url, prefix).with_client(lambda c: c.job(job_id))
    if found.status is not JobStatus.DEAD:
        raise CliError(f"job {job_id} is {found.status.value}, not dead")
    if json_out:
        emit_json(found.to_dict())
    else:
        console().print(job_table(found))


def _selection(job_id: str | None, every: bool, verb: str) -> None:
    if job_id is None and not every:
        raise CliError(f"give a job ID to {verb}, or --all")
    if job_id is not None and every:
        raise CliError("give a job ID or --all, not both")


@dlq.command("requeue")
def requeue(
    job_id: OptionalId = None,
    every: AllOption = False,
    queue: QueueOption = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Put dead jobs back on their queue with fresh attempts."""
    _selection(job_id, every, "requeue")
    count = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: c.requeue_dead(queue=queue, job_id=job_id)
    )
    _report(count, "requeued", job_id, json_out)


@dlq.command("purge")
def purge(
    job_id: OptionalId = None,
    every: AllOption = False,
    queue: QueueOption = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Delete dead jobs for good."""
    _selection(job_id, every, "purge")
    count = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: c.purge_dead(queue=queue, job_id=job_id)
    )
    _report(count, "purged", job_id, json_out)


def _report(count: int, verb: str, job_id: str | None, json_out: bool) -> None:
    if job_id is not None and count == 0:
        raise CliError(f"job {job_id} is not in the dead-letter queue")
    if json_out:
        emit_json({verb: count})
    else:
        console().print(f"{count} job(s) {verb}")
