"""`chronoq alerts list|show|silence|unsilence|test`: the alert engine's rules,
their states, silences, deliveries, and a test notification."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

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
from chronoq.core.alerts import AlertRule
from chronoq.manage import Alerts
from chronoq.observe.channels import send_test
from chronoq.schedule.spec import parse_duration

alerts = typer.Typer(help="Alert rules, their states, silences and channels.", no_args_is_help=True)

RuleArgument = Annotated[str, typer.Argument(metavar="RULE", help="Alert rule name.")]
SubjectOption = Annotated[
    str, typer.Option("--subject", help="One subject of the rule (a queue, a worker id).")
]


def _run(target: Target, action: Any) -> Any:
    app = target.app

    async def go() -> Any:
        async with app.alerts() as opened:
            return await action(opened)

    return asyncio.run(go())


def _when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _rule_dict(rule: AlertRule) -> dict[str, Any]:
    return {"name": rule.name, "kind": rule.kind.value, "threshold": rule.limit,
            "level": rule.level, "pending": rule.pending, "cooldown": rule.cooldown,
            "window": rule.window, "queues": list(rule.queues),
            "channels": list(rule.channels), "enabled": rule.enabled}  # fmt: skip


async def _overview(a: Alerts) -> dict[str, Any]:
    return {
        "rules": [_rule_dict(r) for r in await a.rules()],
        "states": [s.to_dict() for s in await a.states()],
        "silences": [
            {"rule": s.rule, "subject": s.subject, "until": _when(s.until), "reason": s.reason}
            for s in await a.silences()
        ],
        "channels": sorted((await a.channels()).keys()),
    }


@alerts.command("list")
def list_alerts(
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every rule, with its firing and pending subjects and its silences."""
    data = _run(Target.resolve(app, redis_url, prefix), _overview)
    if json_out:
        emit_json(data)
        return
    table = Table(title="alert rules", title_justify="left")
    for column in ("rule", "kind", "threshold", "level", "pending", "state", "silenced"):
        table.add_column(column)
    for rule in data["rules"]:
        states = [s for s in data["states"] if s["rule"] == rule["name"]]
        shown = ", ".join(f"{s['state']} {s['subject']}" for s in states
                          if s["state"] != "resolved") or "ok"  # fmt: skip
        silenced = ", ".join(f"{s['subject'] or 'all'} until {s['until']}"
                             for s in data["silences"] if s["rule"] == rule["name"])  # fmt: skip
        enabled = "" if rule["enabled"] else " (disabled)"
        table.add_row(rule["name"], rule["kind"] + enabled, f"{rule['threshold']:g}",
                      rule["level"], f"{rule['pending']:g} s", shown, silenced)  # fmt: skip
    console().print(table)
    typer.echo(f"channels: {', '.join(data['channels']) or 'none'}")


@alerts.command("show")
def show(
    rule: RuleArgument,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """One rule: its definition, state per subject, silences and recent deliveries."""

    async def read(a: Alerts) -> dict[str, Any]:
        found = [r for r in await a.rules() if r.name == rule]
        if not found:
            raise CliError(f"no alert rule named {rule!r}")
        data = await _overview(a)
        return {
            "rule": _rule_dict(found[0]),
            "states": [s for s in data["states"] if s["rule"] == rule],
            "silences": [s for s in data["silences"] if s["rule"] == rule],
            "deliveries": [d for d in await a.deliveries(200) if d.get("rule") == rule],
        }

    data = _run(Target.resolve(app, redis_url, prefix), read)
    if json_out:
        emit_json(data)
        return
    for key, value in data["rule"].items():
        typer.echo(f"{key}: {value}")
    for s in data["states"]:
        typer.echo(f"state {s['subject']}: {s['state']} since {_when(s['since'])}: {s['message']}")
    for s in data["silences"]:
        typer.echo(f"silenced {s['subject'] or 'all'} until {s['until']}: {s['reason']}")
    for d in data["deliveries"]:
        verdict = "ok" if d["ok"] else "failed"
        typer.echo(f"delivery {_when(d['at'])} {d['event']} {d['subject']} to {d['channel']} "
                   f"attempt {d['attempt']}: {verdict} ({d['detail']})")  # fmt: skip


@alerts.command("silence")
def silence(
    rule: RuleArgument,
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown with the silence).")],
    subject: SubjectOption = "",
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
) -> None:
    """No notification for RULE (or one --subject of it) for a while, with a reason."""
    seconds = parse_duration(duration).total_seconds()
    made = _run(
        Target.resolve(app, redis_url, prefix),
        lambda a: a.silence(rule, seconds, reason, subject=subject),
    )
    typer.echo(f"silenced {rule} {subject or '(all subjects)'} until {_when(made.until)}")


@alerts.command("unsilence")
def unsilence(
    rule: RuleArgument,
    subject: SubjectOption = "",
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
) -> None:
    """End a silence."""
    removed = _run(
        Target.resolve(app, redis_url, prefix), lambda a: a.unsilence(rule, subject=subject)
    )
    if not removed:
        raise CliError(f"{rule} {subject or '(all subjects)'} is not silenced", exit_code=1)
    typer.echo(f"unsilenced {rule} {subject or '(all subjects)'}")


@alerts.command("test")
def test(
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only this channel (default: all).")
    ] = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
) -> None:
    """Send a test notification through every channel (the app's and those stored);
    exit 1 when one was not accepted."""
    target = Target.resolve(app, redis_url, prefix)

    async def go(a: Alerts) -> dict[str, bool]:
        channels = await a.channels()
        if channel is not None:
            if channel not in channels:
                raise CliError(f"no alert channel named {channel!r}")
            channels = {channel: channels[channel]}
        if not channels:
            raise CliError(
                "no alert channel is configured (app.alert_channel or alerts.add_channel)"
            )
        return await send_test(list(channels.values()), a.store, app=target.app.name)

    began = time.monotonic()
    results = _run(target, go)
    for name, ok in sorted(results.items()):
        typer.echo(f"{name}: {'delivered' if ok else 'FAILED'}")
    typer.echo(f"({time.monotonic() - began:.1f} s)", err=True)
    if not all(results.values()):
        raise typer.Exit(1)
