"""`chronoq queues`: the per-queue counts (no subcommand, as before), and the
operator's brakes: pause, resume and drain."""

from __future__ import annotations

from typing import Annotated

import typer

from chronoq.cli import jobs
from chronoq.cli.common import (
    AppOption,
    JsonOption,
    PrefixOption,
    RedisUrlOption,
    Target,
    console,
    emit_json,
    run_with,
)
from chronoq.redis.queue_control import DRAINED

queues = typer.Typer(
    help="Per queue: waiting, scheduled, running and dead jobs; pause, resume, drain.",
    invoke_without_command=True,
)
QueueArgument = Annotated[str, typer.Argument(metavar="QUEUE", help="Queue name.")]


@queues.callback(invoke_without_command=True)
def overview(
    ctx: typer.Context,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Per queue: waiting, scheduled, running and dead jobs (paused ones marked)."""
    if ctx.invoked_subcommand is None:
        jobs.queues(app, redis_url, prefix, json_out)


@queues.command("pause")
def pause(
    queue: QueueArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why (shown with the queue).")] = "",
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Stop workers claiming the queue's jobs (they keep serving other queues;
    enqueues still queue; running jobs finish)."""
    target = Target.resolve(app, redis_url, prefix)
    done = run_with(target.app.queue_admin, lambda a: a.pause(queue, reason, by="cli"))
    if json_out:
        emit_json(done.to_dict())
    else:
        why = f": {done.reason}" if done.reason else ""
        console().print(f"queue {queue} paused since {done.since.isoformat()}{why}")


@queues.command("resume")
def resume(
    queue: QueueArgument,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """End a pause: a waiting worker claims at once."""
    target = Target.resolve(app, redis_url, prefix)
    resumed = run_with(target.app.queue_admin, lambda a: a.resume(queue))
    if json_out:
        emit_json({"queue": queue, "resumed": resumed})
    else:
        console().print(f"queue {queue} {'resumed' if resumed else 'was not paused'}")


@queues.command("drain")
def drain(
    queue: QueueArgument,
    reason: Annotated[str, typer.Option("--reason", help="Written to each job's error.")] = DRAINED,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cancel every waiting job (ready, scheduled, blocked): each ends cancelled, kept
    for the cancelled retention. Running jobs finish."""
    target = Target.resolve(app, redis_url, prefix)
    done = run_with(target.app.queue_admin, lambda a: a.drain(queue, reason=reason))
    if json_out:
        emit_json(done.to_dict())
    else:
        console().print(
            f"queue {queue}: cancelled {done.cancelled} waiting job(s) "
            f"({done.ready} ready, {done.scheduled} scheduled, {done.blocked} blocked)"
        )
