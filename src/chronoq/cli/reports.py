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
from chronoq.observe.report import Report, build_report, percent, report_text, seconds
from chronoq.observe.report_html import report_html
from chronoq.observe.rollups import MetricsWindow, Rollup, check_hours, window

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
    found = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: window(c.backend, hours=hours, queue=queue, task=task)
    )
    if json_out:
        emit_json(found.to_dict())
    else:
        console().print(window_table(found))


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
