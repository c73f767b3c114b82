"""`chronoq metrics --hours N` and `chronoq report --hours N`: metrics over time,
rendered from the observe read models (`chronoq.observe.rollups`, `.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

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
from chronoq.observe.ops import OpsWindow, ops_window
from chronoq.observe.report import Report, build_report, percent, report_text, seconds
from chronoq.observe.report_html import report_html
from chronoq.observe.rollups import MetricsWindow, Rollup, check_hours, window
from chronoq.redis.backend import Backend

QueueFilter = Annotated[
    str | None, typer.Option("--queue", help="Only this queue.", show_default=False)
]
TaskFilter = Annotated[
    str | None, typer.Option("--task", help="Only this task.", show_default=False)
]


def metrics_over_time(
    ctx: typer.Context,
    hours: Annotated[
        float | None,
        typer.Option(
            "--hours", help="Per queue and task over the last N hours.", show_default=False
        ),
    ] = None,
    queue: QueueFilter = None,
    task: TaskFilter = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Metrics: `--hours N` per queue and task (throughput, success rate, p50/p95/p99
    of run and wait times); `serve` and `show` for Prometheus."""
    if ctx.invoked_subcommand is not None:
        return
    if hours is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    check_hours(hours)
    found, ops = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: _windows(c.backend, hours, queue, task)
    )
    if json_out:
        emit_json({**found.to_dict(), "operations": ops.to_dict()})
    else:
        console().print(window_table(found))
        for table in ops_tables(ops):
            console().print(table)


async def _windows(
    backend: Backend, hours: float, queue: str | None, task: str | None
) -> tuple[MetricsWindow, OpsWindow]:
    found = await window(backend, hours=hours, queue=queue, task=task)
    return found, await ops_window(backend, hours, now_ms=int(found.end.timestamp() * 1000))


def ops_tables(ops: OpsWindow) -> list[Table]:
    """The operations over the window, one table per part that has rows."""
    tables = []
    parts: list[tuple[str, list[str], list[list[str]]]] = [
        ("schedules (due to enqueue p50 / p95 / p99)",
         ["schedule", "fired", "missed", "skipped", "lateness"],
         [[s.schedule, str(s.fired), str(s.missed), str(s.skipped),
           " / ".join(seconds(v) for v in (e.p50, e.p95, e.p99))]
          for s in ops.schedules for e in [s.enqueue_lateness]]),
        ("limit decisions", ["limit", "granted", "denied", "denied share"],
         [[x.limit, str(x.granted), str(x.denied), percent(x.denied_share)]
          for x in ops.limits]),
        ("locks", ["family", "contended", "timed out", "lost"],
         [[x.family, str(x.contended), str(x.timeout), str(x.lost)] for x in ops.locks]),
        ("worker processes", ["queue", "peak MB", "mean MB", "CPU s", "samples"],
         [[x.queue, str(x.rss_peak_mb or "-"), str(x.rss_mean_mb or "-"),
           f"{x.cpu_seconds:.1f}", str(x.samples)] for x in ops.workers]),
    ]  # fmt: skip
    for title, columns, rows in parts:
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        tables.append(table)
    return tables


def window_table(w: MetricsWindow) -> Table:
    table = Table(
        title=f"metrics, the last {w.hours:g} hour(s) (durations p50 / p95 / p99)",
        title_justify="left",
    )
    for column in ("queue", "task", "attempts", "succeeded", "failed", "dead", "success",
                   "throughput", "run", "wait"):  # fmt: skip
        table.add_column(column)
    for row in [*w.rows, w.total]:
        table.add_row(*_cells(row))
    return table


def _cells(r: Rollup) -> list[str]:
    c = r.counts
    return [
        r.queue or ("(all)" if r.task is None else "-"),
        r.task or "(all)",
        str(c["started"]),
        str(c["succeeded"]),
        str(c["failed"]),
        str(c["dead"]),
        percent(r.success_rate),
        f"{r.throughput:.3f}/s",
        " / ".join(seconds(v) for v in (r.run.p50, r.run.p95, r.run.p99)),
        " / ".join(seconds(v) for v in (r.wait.p50, r.wait.p95, r.wait.p99)),
    ]


def report(
    hours: Annotated[float, typer.Option("--hours", help="Report on the last N hours.")] = 24,
    queue: QueueFilter = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the report as one self-contained HTML file with charts.",
            show_default=False,
        ),
    ] = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """How the last N hours went: success rate, throughput, slowest tasks, top failure
    groups, schedule lateness, limits near their cap."""
    check_hours(hours)
    found: Report = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: build_report(c.backend, hours=hours, queue=queue)
    )
    if html is not None:
        try:
            html.write_text(report_html(found), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {html}: {exc.strerror or exc}") from exc
    if json_out:
        emit_json(found.to_dict())
    elif html is not None:
        typer.echo(f"report written to {html}")
    else:
        typer.echo(report_text(found), nl=False)
