"""`chronoq worker`, `chronoq scheduler` and `chronoq up`: the long-running commands.

Each honours SIGTERM and SIGINT at every moment, including while it still waits
for Redis at start-up (it then exits 0: it did what it was asked). A permanent
Redis fault (a refused password, a denied command, a TLS certificate) ends it
within seconds with one line on stderr and exit status 2; a failed worker loop
with status 1 (see `chronoq.cli.main`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer

from chronoq.app import App
from chronoq.cli.common import CliError, PrefixOption, RedisUrlOption, Target, console
from chronoq.cli.dashboard import DEFAULT_HOST, DEFAULT_PORT, start_site
from chronoq.cli.logs import configure_logging
from chronoq.cli.pool import WorkerPool, spawner, stop_children
from chronoq.core.sizes import parse_size
from chronoq.redis.cancel import cancel_and_wait
from chronoq.worker import Worker, WorkerOptions, run_until_signalled
from chronoq.worker.options import DEFAULT_CONCURRENCY
from chronoq.worker.runner import TASK_THREADS
from chronoq.worker.scheduling import serve_scheduler

log = logging.getLogger("chronoq.worker")
CHILD_POLL = 0.5  # how often `up` looks at its worker processes

AppArgument = Annotated[str, typer.Argument(metavar="APP", help="The App, as module:attribute.")]
DEMO_APP = "chronoq.demo:app"  # what `chronoq up` runs when given no APP
UpAppArgument = Annotated[
    str,
    typer.Argument(
        metavar="[APP]",
        help=f"The App, as module:attribute (default: the bundled demo, {DEMO_APP}).",
    ),
]
QueuesOption = Annotated[
    str | None,
    typer.Option(
        "--queues",
        "-q",
        help='Queues in strict order "a,b", or weighted "a=3,b=1" (default: every queue '
        "the app's tasks use, default first).",
        show_default=False,
    ),
]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", "-c", help="Jobs run at once per process.", min=1)
]
_RECYCLED = "(exit status 0, for `up` to start a fresh process)"
_SIZE_UNITS = "e.g. 500MB, 1GB, 800M, 512MiB; K, M, G are binary: 1MB = 1MiB = 2^20 bytes"
MaxJobsOption = Annotated[
    int | None,
    typer.Option(
        "--max-jobs",
        metavar="N",
        help=f"Recycle: stop after recording N jobs {_RECYCLED}.",
        min=1,
        show_default=False,
    ),
]
MaxMemoryOption = Annotated[
    str | None,
    typer.Option(
        "--max-memory",
        metavar="SIZE",
        help=f"Recycle: stop once the resident memory (RSS) reaches SIZE ({_SIZE_UNITS}) "
        f"{_RECYCLED}.",
        show_default=False,
    ),
]
MaxJobsPerProcessOption = Annotated[
    int | None,
    typer.Option(
        "--max-jobs-per-process",
        metavar="M",
        help="Replace a worker process after it recorded M jobs (its unfinished jobs "
        "handed back first).",
        min=1,
        show_default=False,
    ),
]
MaxMemoryPerProcessOption = Annotated[
    str | None,
    typer.Option(
        "--max-memory-per-process",
        metavar="SIZE",
        help=f"Replace a worker process once its resident memory (RSS) reaches SIZE "
        f"({_SIZE_UNITS}).",
        show_default=False,
    ),
]
LogLevelOption = Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")]
LogFormatOption = Annotated[
    str,
    typer.Option(
        "--log-format", help="text, or json: one object per line (ts, level, event, job_id, ...)."
    ),
]


def worker(
    app: AppArgument,
    queues: QueuesOption = None,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    burst: Annotated[bool, typer.Option("--burst", help="Exit once the queues are empty.")] = False,
    lease: Annotated[
        float | None, typer.Option("--lease", help="Lease length in seconds.", min=1)
    ] = None,
    shutdown_timeout: Annotated[
        float | None,
        typer.Option("--shutdown-timeout", help="Seconds running jobs get on SIGTERM.", min=0),
    ] = None,
    max_jobs: MaxJobsOption = None,
    max_memory: MaxMemoryOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    log_level: LogLevelOption = "info",
    log_format: LogFormatOption = "text",
) -> None:
    """Run one worker process. SIGTERM or SIGINT drains it; a second signal stops it at once.

    Logs one line per job outcome at INFO (failed attempts at WARNING, dead jobs at
    ERROR with the traceback). With --max-jobs or --max-memory it drains the same
    way once it reaches either, and exits 0 to be replaced."""
    configure_logging(log_level, log_format)
    memory = _size("--max-memory", max_memory)
    target = Target.resolve(app, redis_url, prefix)
    options = WorkerOptions(
        queues=queues or ",".join(target.app.queues()),
        concurrency=concurrency,
        burst=burst,
        lease=lease,
        shutdown_timeout=shutdown_timeout,
        max_jobs=max_jobs,
        max_memory=memory,
    )
    running = Worker(target.app, options)
    asyncio.run(_leaving_no_task_behind(run_until_signalled(running)))
    if running.recycling.reason is not None:
        log.info(
            "chronoq worker %s exits to be replaced (%s)", running.id, running.recycling.reason
        )


def _size(option: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_size(text)
    except ValueError as exc:
        raise CliError(f"{option}: {exc}") from None


def scheduler(
    app: AppArgument,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    log_level: LogLevelOption = "info",
    log_format: LogFormatOption = "text",
) -> None:
    """Run only a scheduler loop (workers run one too; any number may run at once)."""
    configure_logging(log_level, log_format)
    target = Target.resolve(app, redis_url, prefix)
    asyncio.run(_leaving_no_task_behind(_scheduler_until_signalled(target.app)))


async def _scheduler_until_signalled(app: App) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve_scheduler(app, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def up(
    app: UpAppArgument = DEMO_APP,
    queues: QueuesOption = None,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    processes: Annotated[
        int, typer.Option("--processes", "-p", help="Worker processes (default 1).", min=1)
    ] = 1,
    max_jobs_per_process: MaxJobsPerProcessOption = None,
    max_memory_per_process: MaxMemoryPerProcessOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    log_level: LogLevelOption = "info",
    log_format: LogFormatOption = "text",
    dashboard: Annotated[
        bool,
        typer.Option(
            "--dashboard/--no-dashboard", help="Serve the dashboard and HTTP API beside them."
        ),
    ] = True,
    dashboard_host: Annotated[
        str, typer.Option("--dashboard-host", help="The dashboard's address.")
    ] = DEFAULT_HOST,
    dashboard_port: Annotated[
        int, typer.Option("--dashboard-port", help="The dashboard's port.", min=0, max=65535)
    ] = DEFAULT_PORT,
) -> None:
    """Run everything for APP (default: the bundled demo, a campaign, a post and a
    scraped source on loopback platforms it starts itself): its workers, on the
    configured or the embedded server,
    and the dashboard with the HTTP API (a process of its own, at the URL printed).
    Each process logs one line per job outcome at INFO. With --max-jobs-per-process
    or --max-memory-per-process every worker runs in a child process, replaced when
    it reaches either."""
    configure_logging(log_level, log_format)
    _size("--max-memory-per-process", max_memory_per_process)  # refused before anything starts
    target = Target.resolve(app, redis_url, prefix)
    settings = target.app.settings
    where = "server" if settings.redis_url else "embedded server"
    url = target.app.redis_url()  # starts the embedded server when none is configured
    queues = queues or ",".join(target.app.queues())
    recycle = _recycle_options(max_jobs_per_process, max_memory_per_process)
    each = f", each recycled ({' '.join(recycle)})" if recycle else ""
    console().print(
        f"chronoq up: {app} on {where} {url} (prefix {settings.prefix!r}), "
        f"{processes} worker process(es) x {concurrency}{each}, queues {queues}. Ctrl-C to stop."
    )
    common = ["--redis-url", url, "--prefix", settings.prefix, "--log-level", log_level]
    site = []
    if dashboard:
        target.app.settings = settings.model_copy(update={"redis_url": url})
        site = [start_site(target.app, app, dashboard_host, dashboard_port, common)]
    command = [sys.executable, "-m", "chronoq", "worker", app, "--queues", queues]
    command += ["--concurrency", str(concurrency), *common, "--log-format", log_format]
    try:
        _run_workers(target.app, command, processes, recycle, queues, concurrency, url)
    finally:
        stop_children(site)


def _run_workers(
    app: App,
    command: list[str],
    processes: int,
    recycle: list[str],
    queues: str,
    concurrency: int,
    url: str,
) -> None:
    if recycle:
        _run_pool([*command, *recycle], processes)
        return
    spawn = spawner(command)
    siblings = [spawn() for _ in range(processes - 1)]
    app.settings = app.settings.model_copy(update={"redis_url": url})
    main = Worker(app, WorkerOptions(queues=queues, concurrency=concurrency))

    def forward(sig: signal.Signals) -> None:
        for child in siblings:
            if child.poll() is None:
                child.send_signal(sig)

    failed: list[str] = []
    try:
        asyncio.run(_leaving_no_task_behind(_run_with_siblings(main, siblings, forward, failed)))
    finally:
        stop_children(siblings)
    if failed:
        raise CliError(failed[0], exit_code=1)


def _recycle_options(max_jobs: int | None, max_memory: str | None) -> list[str]:
    """The `chronoq worker` options that recycle each process; empty: no recycling."""
    options = [] if max_jobs is None else ["--max-jobs", str(max_jobs)]
    return options if max_memory is None else [*options, "--max-memory", max_memory]


def _run_pool(command: list[str], processes: int) -> None:
    """Every worker a child process, each replaced when it recycles (`chronoq.cli.pool`)."""
    failure = WorkerPool(spawner(command), processes).run()
    if failure is not None:
        raise CliError(failure, exit_code=1)


async def _run_with_siblings(
    main: Worker,
    siblings: list[subprocess.Popen[bytes]],
    forward: Callable[[signal.Signals], None],
    failed: list[str],
) -> None:
    """Run the main worker; a sibling process that fails stops everything."""
    watcher = asyncio.create_task(_watch_children(main, siblings, failed))
    try:
        await run_until_signalled(main, forward)
    finally:
        watcher.cancel()


async def _watch_children(
    main: Worker, children: list[subprocess.Popen[bytes]], failed: list[str]
) -> None:
    while True:
        await asyncio.sleep(CHILD_POLL)
        for child in children:
            status = child.poll()
            if status not in (None, 0) and not failed:
                failed.append(f"worker process {child.pid} exited with status {status}")
                log.error("chronoq up: %s; stopping the others", failed[0])
                main.request_stop()
                for other in children:
                    if other.poll() is None:
                        other.send_signal(signal.SIGTERM)


async def _leaving_no_task_behind(main: Coroutine[Any, Any, None]) -> None:
    """Run `main`, then end any task still running: `asyncio.run` would cancel
    them once and wait forever for one whose cancellation redis-py swallowed."""
    try:
        await main
    finally:
        current = asyncio.current_task()
        await cancel_and_wait([t for t in asyncio.all_tasks() if t is not current], patience=5)


def stray_task_threads(patience: float = 0.2) -> list[threading.Thread]:
    """Task threads still running after the worker stopped: sync tasks past their
    timeout (a thread cannot be cancelled). Idle pool threads get `patience` to end."""
    deadline = time.monotonic() + patience
    stray = []
    for thread in threading.enumerate():
        if thread.name.startswith(TASK_THREADS):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                stray.append(thread)
    return stray
