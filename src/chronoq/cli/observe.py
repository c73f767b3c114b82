"""`chronoq health` and `chronoq metrics serve|show`: render the observe read models
(`chronoq metrics --hours N` and `chronoq report`: `chronoq.cli.reports`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chronoq.cli import reports
from chronoq.cli.common import (
    AppOption,
    JsonOption,
    PrefixOption,
    RedisUrlOption,
    Target,
    console,
    emit_json,
)
from chronoq.observe.alerts import StoredAlerts
from chronoq.observe.exposition import MetricsServer
from chronoq.observe.health import HealthReport, Level, check_health
from chronoq.observe.metrics import read_metrics, render

DEFAULT_PORT = 9464
_STYLES = {Level.OK: "green", Level.WARNING: "yellow", Level.CRITICAL: "bold red"}

metrics = typer.Typer(
    help="Metrics over time (--hours N), and Prometheus (serve, show).",
    invoke_without_command=True,
)
metrics.callback()(reports.metrics_over_time)


def health(
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check Redis, workers, scheduler loops and clocks. Exit status 0 ok, 1 warning,
    2 critical (for probes and cron)."""
    report = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: check_health(c.backend, alerts=[StoredAlerts(c.backend.alerts)])
    )
    if json_out:
        emit_json(report.to_dict())
    else:
        console().print(health_table(report))
    raise typer.Exit(report.exit_code)


def health_table(report: HealthReport) -> Table:
    style = _STYLES[report.level]
    table = Table(title=f"health: [{style}]{report.level.label}[/{style}]", title_justify="left")
    for column in ("check", "status", "detail"):
        table.add_column(column)
    for check in report.checks:
        level = _STYLES[check.level]
        table.add_row(check.name, f"[{level}]{check.level.label}[/{level}]", check.message)
    return table


@metrics.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0: any free one).", min=0)
    ] = DEFAULT_PORT,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
) -> None:
    """Serve Prometheus metrics on http://HOST:PORT/metrics until SIGTERM or Ctrl-C."""
    target = Target.resolve(app, redis_url, prefix)
    server = MetricsServer(target.app, host, port)
    bound_host, bound_port = server.address
    typer.echo(f"chronoq metrics on http://{bound_host}:{bound_port}/metrics", err=True)
    server.serve()


@metrics.command("show")
def show(
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Print the metrics once: the Prometheus text, or with --json the snapshot."""
    snapshot = Target.resolve(app, redis_url, prefix).with_client(
        lambda c: read_metrics(c.backend.snapshots)
    )
    if json_out:
        emit_json(snapshot.to_dict())
    else:
        typer.echo(render(snapshot).decode(), nl=False)
