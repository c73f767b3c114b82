"""The `chronoq` command. Errors are one line on stderr and exit status 2 (usage,
bad input, unreachable server, a Redis that refuses the password, a permission or
the TLS certificate) or 1 (the request was valid but refused, e.g. cancelling a
job that already runs; a worker loop that failed), never a traceback."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from chronoq.cli import jobs, observe, reports, serve
from chronoq.cli.alerts import alerts
from chronoq.cli.campaigns import campaigns
from chronoq.cli.common import CliError
from chronoq.cli.dashboard import dashboard
from chronoq.cli.dlq import dlq, list_dead, process_dlq
from chronoq.cli.limits import limits, quotas
from chronoq.cli.locks import locks
from chronoq.cli.operations import operations
from chronoq.cli.queues import queues
from chronoq.cli.schedules import cron, schedules
from chronoq.cli.server import server
from chronoq.cli.tokens import tokens
from chronoq.cli.workflows import workflows
from chronoq.core.errors import ChronoqError, InvalidJobState
from chronoq.redis.errors import RedisError, RedisUnusable, describe
from chronoq.worker import WorkerFailed

cli = typer.Typer(
    name="chronoq",
    help="chronoq: job scheduling for Python on Redis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _print_version(value: bool) -> None:
    if value:
        from chronoq import __version__  # noqa: PLC0415 (the package root imports the CLI's layers)

        typer.echo(f"chronoq {__version__}")
        raise typer.Exit()


@cli.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print chronoq's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """chronoq: job scheduling for Python on Redis."""


cli.command()(serve.up)
cli.command()(serve.worker)
cli.command()(jobs.enqueue)
cli.command()(jobs.job)
cli.command()(jobs.jobs)
cli.command()(jobs.cancel)
cli.add_typer(queues, name="queues")
cli.command()(jobs.workers)
cli.command()(jobs.cleanup)
cli.add_typer(dlq, name="dlq")
cli.command("dead-letters", help="The dead-letter queue: `dlq list` under the name operators use.")(
    list_dead
)
cli.command("process-dlq")(process_dlq)
cli.add_typer(server, name="server")
cli.add_typer(schedules, name="schedules")
cli.add_typer(cron, name="cron")
cli.add_typer(limits, name="limits")
cli.add_typer(quotas, name="quotas")
cli.command()(serve.scheduler)
cli.command()(observe.health)
cli.add_typer(observe.metrics, name="metrics")
cli.add_typer(alerts, name="alerts")
cli.add_typer(tokens, name="tokens")
cli.add_typer(locks, name="locks")
cli.add_typer(operations, name="operations")
cli.add_typer(workflows, name="workflows")
cli.add_typer(campaigns, name="campaigns")
cli.command()(dashboard)
cli.command()(reports.report)
cli.command("generate-report", hidden=True)(reports.report)  # the seeds' name for `report`


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    command = typer.main.get_command(cli)
    args = list(argv) if argv is not None else None
    try:
        # Not standalone, click returns the status of a `typer.Exit` raised in a command
        # (`chronoq health` exits 1 or 2 after printing its report).
        status = command.main(args=args, prog_name="chronoq", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # help was printed: not an error
            return 0
        message, code = _explain(exc)
        sys.stderr.write(f"chronoq: error: {message}\n")
        return code
    return status if isinstance(status, int) else 0


def _explain(exc: Exception) -> tuple[str, int]:
    """The one-line message and exit status for an error; unknown errors propagate."""
    match exc:
        case typer.TyperException():  # usage: bad option, missing argument
            return _usage_message(exc), int(getattr(exc, "exit_code", 2))
        case CliError():
            return str(exc), exc.exit_code
        case InvalidJobState() | WorkerFailed():
            return str(exc), 1
        case RedisUnusable() | ChronoqError() | ValueError():
            return str(exc), 2
        case RedisError() | OSError():
            return describe(exc), 2
    raise exc


def _usage_message(exc: typer.TyperException) -> str:
    """Typer (0.29+ vendors click) puts the message in format_message()."""
    format_message = getattr(exc, "format_message", None)
    return str(format_message() if callable(format_message) else exc)


def run() -> None:
    code = main()
    stray = serve.stray_task_threads()
    if stray:
        # Sync tasks past their timeout still run in threads, which cannot be
        # cancelled; waiting for them would hang the exit for as long as they run.
        sys.stderr.write(
            f"chronoq: {len(stray)} task thread(s) still running; exiting without them\n"
        )
        logging.shutdown()
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(code)
    sys.exit(code)
