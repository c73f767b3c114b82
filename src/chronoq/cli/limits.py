"""`chronoq limits ...` and `chronoq quotas`: rate limits and quotas at runtime."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

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
    run_with,
)
from chronoq.core.errors import ConfigurationError, LimitNotFound
from chronoq.core.limits import Kind, Limit, WindowRate, parse_rate, parse_windows
from chronoq.core.zones import zone
from chronoq.observe import quota_use as history
from chronoq.redis.backend import Backend
from chronoq.redis.limits import KeyUsage, LimitStore

T = TypeVar("T")
limits = typer.Typer(help="Rate limits and quotas, changed at runtime.", no_args_is_help=True)
quotas = typer.Typer(help="Quota use per account.", invoke_without_command=True)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Limit name.")]
KeyOption = Annotated[
    list[str] | None,
    typer.Option("--key", help="Show this key (repeatable; default: recently used keys)."),
]


def _with_store(target: Target, action: Callable[[LimitStore], Awaitable[T]]) -> T:
    return run_with(target.app.backend, lambda backend: action(backend.limits))


@limits.command("list")
def list_limits(
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every limit: its configuration and its busiest key now."""

    async def read(store: LimitStore) -> list[tuple[Limit, list[KeyUsage]]]:
        return [(limit, await store.usage(limit.name)) for limit in await store.all()]

    rows = _with_store(Target.resolve(app, redis_url, prefix), read)
    if json_out:
        emit_json([_limit_dict(limit, usage) for limit, usage in rows])
        return
    table = Table(title="limits", title_justify="left")
    for column in (
        "name",
        "kind",
        "rate",
        "burst",
        "min gap",
        "windows",
        "zone",
        "keys",
        "busiest",
    ):
        table.add_column(column)
    for limit, usage in rows:
        busiest = max(usage, key=lambda u: u.utilization, default=None)
        table.add_row(
            limit.name,
            limit.kind.value,
            limit.rate_text,
            str(limit.burst),
            f"{limit.min_gap:g}s",
            _windows_text(limit),
            limit.tz,
            str(len(usage)),
            f"{busiest.key or '(all)'} {busiest.utilization:.0%}" if busiest else "-",
        )
    console().print(table)


@limits.command("show")
def show(
    name: NameArgument,
    key: KeyOption = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """One limit: configuration, then per key: use in the current period,
    utilization and the next allowed start."""

    async def read(store: LimitStore) -> tuple[Limit, list[KeyUsage]]:
        return await store.get(name), await store.usage(name, key)

    limit, usage = _with_store(Target.resolve(app, redis_url, prefix), read)
    if json_out:
        emit_json(_limit_dict(limit, usage))
        return
    out = console()
    out.print(_config_table(limit))
    out.print(_usage_table(limit, usage))


@limits.command("set")
def set_limit(
    name: NameArgument,
    rate: Annotated[
        str | None,
        typer.Option("--rate", help="Like 600/min, 10/s, 1000/day (quotas: per hour|day)."),
    ] = None,
    burst: Annotated[
        int | None, typer.Option("--burst", help="Extra starts at once.", min=0)
    ] = None,
    min_gap: Annotated[
        float | None, typer.Option("--min-gap", help="Seconds between two starts.", min=0)
    ] = None,
    window: Annotated[
        list[str] | None,
        typer.Option("--window", help="Allowed hours, like 'mon-fri 09:00-18:00' (repeatable)."),
    ] = None,
    window_rate: Annotated[
        list[str] | None,
        typer.Option(
            "--window-rate",
            help="A window's own rule, like 'mon-fri 09:00-17:00=30/h' (or =forbid); "
            "the rate applies elsewhere (repeatable).",
        ),
    ] = None,
    always: Annotated[bool, typer.Option("--always", help="Drop the windows.")] = False,
    tz: Annotated[str | None, typer.Option("--tz", help="IANA zone of the windows.")] = None,
    quota: Annotated[bool, typer.Option("--quota", help="A quota per account.")] = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a limit, or change one: options not given keep their values. It applies
    at once on every worker; jobs it had deferred are decided again."""
    target = Target.resolve(app, redis_url, prefix)

    async def change(store: LimitStore) -> Limit:
        try:
            current: dict[str, Any] | None = (await store.get(name)).to_dict()
        except LimitNotFound:
            current = None
        limit = _merged(name, current, rate, burst, min_gap, window, always, tz, quota)
        if window_rate or always:
            rules = _window_rules(window_rate or [])
            rated = tuple(WindowRate.parse(w, r) for w, r in rules.items())
            limit = dataclasses.replace(limit, window_rates=rated)
        await store.set(limit)
        return limit

    limit = _with_store(target, change)
    if json_out:
        emit_json(limit.to_dict())
    else:
        console().print(f"limit {limit.name} set: {_summary(limit)}")


@limits.command("rm")
def remove(
    name: NameArgument,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Remove a limit: jobs naming it run unlimited from now on."""
    _with_store(Target.resolve(app, redis_url, prefix), lambda s: s.remove(name))
    if json_out:
        emit_json({"name": name, "removed": True})
    else:
        console().print(f"limit {name} removed")


@quotas.callback()
def quota_use(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", help="Only this quota.")] = None,
    account: Annotated[
        list[str] | None, typer.Option("--account", help="Only this account (repeatable).")
    ] = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Use per account of every quota in its current local period."""
    if ctx.invoked_subcommand is not None:
        return

    async def read(store: LimitStore) -> list[tuple[Limit, list[KeyUsage]]]:
        found = [lim for lim in await store.all() if lim.kind is Kind.QUOTA]
        chosen = [lim for lim in found if name is None or lim.name == name]
        if name is not None and not chosen:
            raise CliError(f"no quota named {name!r}")
        return [(lim, await store.usage(lim.name, account)) for lim in chosen]

    rows = _with_store(Target.resolve(app, redis_url, prefix), read)
    if json_out:
        emit_json([_limit_dict(limit, usage) for limit, usage in rows])
        return
    out = console()
    if not rows:
        out.print("no quotas are set (declare one with app.quota, or: chronoq limits set --quota)")
    for limit, usage in rows:
        out.print(_usage_table(limit, usage, title=f"quota {limit.name}: {limit.rate_text}"))


@quotas.command("usage")
def quota_history(
    name: Annotated[str | None, typer.Option("--name", help="Only this quota.")] = None,
    days: Annotated[int, typer.Option("--days", help="The last N local days.")] = 7,
    account: Annotated[
        list[str] | None, typer.Option("--account", help="Only this account (repeatable).")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Accounts shown per quota.")] = 10,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Use per account per local day over the last N days (kept CHRONOQ_METRICS_DAYS),
    accounts nearest their cap first."""

    async def read(backend: Backend) -> list[history.QuotaUse]:
        found = [lim for lim in await backend.limits.all() if lim.kind is Kind.QUOTA]
        chosen = [lim for lim in found if name is None or lim.name == name]
        if name is not None and not chosen:
            raise CliError(f"no quota named {name!r}")
        return [
            await history.quota_use(backend, lim, days=days, accounts=account) for lim in chosen
        ]

    try:
        rows = run_with(Target.resolve(app, redis_url, prefix).app.backend, read)
    except ConfigurationError as exc:
        raise CliError(str(exc)) from exc
    if json_out:
        emit_json([use.to_dict(top) for use in rows])
        return
    out = console()
    if not rows:
        out.print("no quotas are set (declare one with app.quota, or: chronoq limits set --quota)")
    for use in rows:
        out.print(_history_table(use, top))


def _history_table(use: history.QuotaUse, top: int) -> Table:
    title = f"quota {use.quota}: {use.cap}/{use.period}, use per local day {use.first}..{use.last}"
    table = Table(title=title, title_justify="left")
    for column in ("account", "total", "peak day", "peak", "of a day's", "peak use"):
        table.add_column(column, no_wrap=True)
    for a in use.top(top):
        table.add_row(a.account or "(all)", str(a.total), a.peak_day, str(a.peak),
                      str(a.day_cap), f"{a.peak_utilization:.0%}")  # fmt: skip
    if not use.days:
        table.add_row("(no use)", "", "", "", "", "")
    return table


@quotas.command("zone")
def account_zone(
    account: Annotated[str, typer.Argument(metavar="ACCOUNT")],
    tz: Annotated[str, typer.Argument(metavar="ZONE", help="IANA zone, e.g. Europe/Paris.")],
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set the zone an account's quotas count their days and hours in."""
    name = zone(tz).key
    _with_store(Target.resolve(app, redis_url, prefix), lambda s: s.set_account_zone(account, name))
    if json_out:
        emit_json({"account": account, "zone": name})
    else:
        console().print(f"account {account} counts quotas in {name}")


def _merged(
    name: str,
    current: dict[str, Any] | None,
    rate: str | None,
    burst: int | None,
    min_gap: float | None,
    window: list[str] | None,
    always: bool,
    tz: str | None,
    quota: bool,
) -> Limit:
    if current is None and rate is None:
        raise CliError(f"limit {name!r} does not exist yet: give --rate")
    raw = dict(current or {"name": name, "kind": "quota" if quota else "rate"})
    if rate is not None:
        count, period = parse_rate(rate)
        raw.update(limit=count, period=period.value)
    if quota:
        raw["kind"] = Kind.QUOTA.value
    for field, value in (("burst", burst), ("min_gap", min_gap), ("tz", tz)):
        if value is not None:
            raw[field] = value
    if window:
        raw["windows"] = [str(w) for w in parse_windows(window)]
    elif always:
        raw["windows"] = []
    return Limit.from_dict(raw)


def _window_rules(texts: list[str]) -> dict[str, str]:
    rules: dict[str, str] = {}
    for text in texts:
        window, sep, rule = text.rpartition("=")
        if not sep or not window.strip():
            raise CliError(f"--window-rate {text!r}: write it like 'mon-fri 09:00-17:00=30/h'")
        rules[window.strip()] = rule.strip()
    return rules


def _windows_text(limit: Limit) -> str:
    parts = [str(w) for w in limit.windows] + [str(r) for r in limit.window_rates]
    return "; ".join(parts) or "always"


def _summary(limit: Limit) -> str:
    parts = [f"{limit.kind.value} {limit.rate_text}"]
    if limit.burst:
        parts.append(f"burst {limit.burst}")
    if limit.min_gap:
        parts.append(f"min gap {limit.min_gap:g}s")
    if limit.windows or limit.window_rates:
        parts.append("windows " + _windows_text(limit))
    parts.append(f"zone {limit.tz}")
    return ", ".join(parts)


def _limit_dict(limit: Limit, usage: list[KeyUsage]) -> dict[str, Any]:
    return {**limit.to_dict(), "keys": [u.to_dict() for u in usage]}


def _config_table(limit: Limit) -> Table:
    table = Table(title=f"limit {limit.name}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for field, value in limit.to_dict().items():
        if field != "name":
            table.add_row(field, _cell(value))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join("=".join(item) if isinstance(item, list) else str(item) for item in value)
    return str(value)


def _usage_table(limit: Limit, usage: list[KeyUsage], *, title: str = "keys") -> Table:
    table = Table(title=title, title_justify="left")
    columns = ("key", "used", "limit", "utilization", "next allowed (local)", "next (UTC)")
    for column in (*columns, "blocked until (UTC)"):
        table.add_column(column, no_wrap=True)
    for u in usage:
        local = u.next_allowed.astimezone(zone(u.zone))
        table.add_row(
            u.key or "(all)",
            str(u.used),
            str(u.limit),
            f"{u.utilization:.0%}",
            _when(local, now_local=datetime.now(local.tzinfo)),
            _when(u.next_allowed.astimezone(UTC), now_local=datetime.now(UTC)),
            _when(u.blocked_until, now_local=datetime.now(UTC)) if u.blocked_until else "-",
        )
    return table


def _when(moment: datetime, *, now_local: datetime) -> str:
    if moment <= now_local:
        return "now"
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")
