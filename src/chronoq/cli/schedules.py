"""`chronoq schedules ...` and `chronoq cron next`: schedules at runtime, from a shell."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from itertools import islice
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
    parse_json,
    run_with,
)
from chronoq.cli.render import enqueued_dict
from chronoq.client import JobRequest
from chronoq.core.zones import zone
from chronoq.redis.schedules import ScheduleInfo, ScheduleStore
from chronoq.schedule.model import DEFAULT_GRACE, Misfire, Overlap, ScheduleDef
from chronoq.schedule.spec import parse_spec, upcoming

T = TypeVar("T")
schedules = typer.Typer(help="Recurring schedules, changed at runtime.", no_args_is_help=True)
cron = typer.Typer(help="Check cron expressions.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Schedule name.")]
CountOption = Annotated[int, typer.Option("-n", help="How many run times.", min=1, max=1000)]
GraceOption = Annotated[float, typer.Option("--grace", help="Seconds late still on time.")]
AfterOption = Annotated[
    str | None,
    typer.Option("--after", help="ISO 8601 instant (default now; no offset: the zone's time)."),
]


def _with_store(target: Target, action: Callable[[ScheduleStore], Awaitable[T]]) -> T:
    return run_with(target.app.backend, lambda backend: action(backend.schedules))


def _emit(info: ScheduleInfo, json_out: bool, verb: str = "") -> None:
    if json_out:
        emit_json(info.to_dict())
    elif verb:
        console().print(f"schedule {info.definition.name} {verb}; next run {_next_text(info)}")
    else:
        console().print(_info_table(info))


@schedules.command("add")
def add(
    name: NameArgument,
    task: Annotated[str, typer.Option("--task", help="Task name.")],
    spec: Annotated[str, typer.Option("--spec", help="Cron, @daily..., or '@every 15m'.")],
    tz: Annotated[str | None, typer.Option("--tz", help="IANA zone (default: app's, UTC).")] = None,
    args: Annotated[str, typer.Option("--args", help="JSON array.")] = "[]",
    kwargs: Annotated[str, typer.Option("--kwargs", help="JSON object.")] = "{}",
    queue: Annotated[str | None, typer.Option("--queue", help="Queue (default: task's).")] = None,
    misfire: Annotated[str, typer.Option("--misfire", help="skip, once or all.")] = "once",
    grace: GraceOption = DEFAULT_GRACE,
    overlap: Annotated[str, typer.Option("--overlap", help="allow, skip or queue.")] = "allow",
    jitter: Annotated[float, typer.Option("--jitter", help="Up to this many seconds.")] = 0.0,
    max_runs: Annotated[int | None, typer.Option("--max-runs", help="Stop after N.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="ISO 8601, with offset.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="ISO 8601, with offset.")] = None,
    deadline: Annotated[
        float | None,
        typer.Option("--deadline", help="Seconds after its time a run may start, else expired."),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace one that exists.")] = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a schedule (it takes effect at once on every scheduler)."""
    target = Target.resolve(app, redis_url, prefix)
    definition = ScheduleDef(
        name=name,
        task=task,
        spec=spec,
        tz=tz or target.app.timezone,
        args=parse_json(args, "--args", list),
        kwargs=parse_json(kwargs, "--kwargs", dict),
        queue=queue,
        misfire=_choice(Misfire, misfire, "--misfire"),
        grace=grace,
        overlap=_choice(Overlap, overlap, "--overlap"),
        jitter=jitter,
        max_runs=max_runs,
        start=_aware(start, "--start") if start else None,
        end=_aware(end, "--end") if end else None,
        deadline=deadline,
    )
    info = _with_store(target, lambda s: s.add(definition, replace=replace))
    _emit(info, json_out, "added")


@schedules.command("list")
def list_schedules(
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every schedule with its next run."""
    infos = _with_store(Target.resolve(app, redis_url, prefix), lambda s: s.all())
    if json_out:
        emit_json([i.to_dict() for i in infos])
        return
    table = Table(title="schedules", title_justify="left")
    for column in ("name", "task", "spec", "zone", "next run (local)", "next run (UTC)", "runs"):
        table.add_column(column, no_wrap=column.startswith("next"))
    for info in infos:
        d = info.definition
        local, utc = _times(info.next_due, d.tz)
        state = "[yellow]paused[/]" if d.paused else local
        table.add_row(d.name, d.task, d.spec, d.tz, state, utc, str(info.runs))
    console().print(table)


@schedules.command("show")
def show(
    name: NameArgument,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """One schedule: its definition, next and last run."""
    _emit(_with_store(Target.resolve(app, redis_url, prefix), lambda s: s.get(name)), json_out)


@schedules.command("rm")
def remove(
    name: NameArgument,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Remove a schedule (jobs it already enqueued stay)."""
    if not _with_store(Target.resolve(app, redis_url, prefix), lambda s: s.remove(name)):
        raise CliError(f"no schedule named {name!r}")
    if json_out:
        emit_json({"removed": name})
    else:
        console().print(f"schedule {name} removed")


@schedules.command("pause")
def pause(
    name: NameArgument,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (stored, shown).")] = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Stop firing a schedule until it is resumed."""
    _emit(_with_store(Target.resolve(app, redis_url, prefix),
                      lambda s: s.pause(name, reason, by="cli")), json_out, "paused")  # fmt: skip


@schedules.command("resume")
def resume(
    name: NameArgument,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Fire a paused schedule again, from its next run after now."""
    _emit(_with_store(Target.resolve(app, redis_url, prefix), lambda s: s.resume(name)),
          json_out, "resumed")  # fmt: skip


@schedules.command("trigger")
def trigger(
    name: NameArgument,
    force: Annotated[
        bool, typer.Option("--force", help="Even if no worker has registered its task.")
    ] = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run a schedule's job once now (its regular runs are unchanged)."""
    target = Target.resolve(app, redis_url, prefix)

    async def go() -> Any:
        async with target.app.schedules() as store:
            d = (await store.get(name)).definition
        request = JobRequest(d.task, d.args, d.kwargs, queue=d.queue, priority=d.priority,
                             max_retries=d.max_retries, timeout=d.timeout, force=force,
                             schedule=d.name)  # fmt: skip
        return await target.with_async_client(lambda c: c.submit(request))

    job = asyncio.run(go())
    if json_out:
        emit_json(enqueued_dict(job))
    else:
        console().print(f"schedule {name} triggered: job {job.id} {job.status.value}")


@schedules.command("history")
def history(
    name: NameArgument,
    limit: Annotated[int, typer.Option("-n", help="How many records.", min=1, max=200)] = 20,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """What happened to a schedule's runs, newest first: enqueued (with the job's
    state now), skipped, missed, triggered, backfilled, paused, resumed."""
    target = Target.resolve(app, redis_url, prefix)
    views = run_with(target.app.schedules, lambda s: s.history(name, limit))
    if json_out:
        emit_json([v.to_dict() for v in views])
        return
    table = Table(title=f"schedule {name}: history", title_justify="left")
    for column in ("at (UTC)", "what", "run due (UTC)", "job", "state", "note"):
        table.add_column(column)
    for view in views:
        r = view.record
        note = r.reason or ""
        if r.count != 1 or r.until:
            note = f"{r.count} run(s)" + (f" to {r.until:%Y-%m-%d %H:%M:%S}" if r.until else "")
        note = (note + (f" (by {r.by})" if r.by else "")).strip()
        table.add_row(f"{r.at:%Y-%m-%d %H:%M:%S}", r.kind.value,
                      f"{r.due:%Y-%m-%d %H:%M:%S}" if r.due else "-", r.job_id or "-",
                      view.status or "-", note)  # fmt: skip
    console().print(table)


@schedules.command("backfill")
def backfill(
    name: NameArgument,
    start: Annotated[str, typer.Option("--start", help="ISO 8601, with offset.")],
    end: Annotated[str, typer.Option("--end", help="ISO 8601, with offset (at most now).")],
    force: Annotated[
        bool, typer.Option("--force", help="Even if no worker has registered its task.")
    ] = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Enqueue the runs that would have happened in [--start, --end]; each run time
    once, however often it is backfilled."""
    target = Target.resolve(app, redis_url, prefix)
    since, until = _aware(start, "--start"), _aware(end, "--end")
    done = run_with(
        target.app.schedules, lambda s: s.backfill(name, since, until, by="cli", force=force)
    )
    if json_out:
        emit_json(done.to_dict())
    else:
        console().print(f"schedule {name}: {len(done.runs)} run(s) in the range, "
                        f"{done.enqueued} enqueued, {done.existing} enqueued before")  # fmt: skip


@schedules.command("next")
def next_runs(
    name: NameArgument,
    count: CountOption = 5,
    after: AfterOption = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """The next N run times of a schedule, in its zone and in UTC."""
    info = _with_store(Target.resolve(app, redis_url, prefix), lambda s: s.get(name))
    d = info.definition
    start = _after(after, d.tz)
    times: list[datetime] = []
    moment = start
    while len(times) < count:
        following = d.next_run_after(moment, info.runs + len(times))
        if following is None:
            break
        times.append(following)
        moment = following
    _print_times(times, d.tz, json_out, f"next runs of {name} ({d.spec}, {d.tz})", start)


@cron.command("next")
def cron_next(
    spec: Annotated[str, typer.Argument(metavar="SPEC", help="Cron expression or macro.")],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone.")] = "UTC",
    count: CountOption = 5,
    after: AfterOption = None,
    json_out: JsonOption = False,
) -> None:
    """The next N run times of SPEC in a zone: check an expression before saving it."""
    parsed = parse_spec(spec)
    zone(tz)
    start = _after(after, tz)
    times = list(islice(upcoming(parsed, zone(tz), start, anchor=start), count))
    _print_times(times, tz, json_out, f"next runs of {spec!r} in {tz}", start)


# -- helpers ---------------------------------------------------------------


def _print_times(
    times: list[datetime], tz: str, json_out: bool, title: str, after: datetime
) -> None:
    """A table marking every change of UTC offset (daylight saving) since `after`."""
    zone_info = zone(tz)
    local = [t.astimezone(zone_info) for t in times]
    if json_out:
        emit_json([t.isoformat() for t in local])
        return
    table = Table(title=title, title_justify="left")
    for column in ("#", f"local ({tz})", "UTC", "note"):
        table.add_column(column, no_wrap=True)
    previous = after.astimezone(zone_info).utcoffset()
    for i, moment in enumerate(local, 1):
        offset = moment.utcoffset()
        note = ""
        if offset != previous:
            note = f"[yellow]UTC offset changes: {_offset(previous)} -> {_offset(offset)}[/]"
        previous = offset
        table.add_row(str(i), moment.isoformat(), times[i - 1].astimezone(UTC).isoformat(), note)
    console().print(table)


def _offset(delta: Any) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _after(text: str | None, tz: str) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--after {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz))
    return moment.astimezone(UTC)


def _aware(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"{option} {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise CliError(f"{option} {text!r} has no UTC offset; add one, e.g. {text}+00:00")
    return moment


E = TypeVar("E", Misfire, Overlap)


def _choice(kind: type[E], value: str, option: str) -> E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise CliError(f"{option} {value!r} is not one of: {choices}") from None


def _times(moment: datetime | None, tz: str) -> tuple[str, str]:
    if moment is None:
        return "-", "-"
    return moment.astimezone(zone(tz)).isoformat(), moment.astimezone(UTC).isoformat()


def _next_text(info: ScheduleInfo) -> str:
    local, utc = _times(info.next_due, info.definition.tz)
    return "none (paused or over)" if info.next_due is None else f"{local} ({utc} UTC)"


def _info_table(info: ScheduleInfo) -> Table:
    d = info.definition
    table = Table(title=f"schedule {d.name}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    last = info.last
    rows = [
        ("task", d.task), ("spec", d.spec), ("zone", d.tz),
        ("args", str(d.args)), ("kwargs", str(d.kwargs)), ("queue", d.queue or "(task's)"),
        ("state", "paused" if d.paused else "active"), ("next run", _next_text(info)),
        ("runs", str(info.runs)),
        ("last run", f"{last.due.isoformat()} job {last.job_id or '-'}" if last else "-"),
        ("misfire", f"{d.misfire.value} (grace {d.grace:g}s)"), ("overlap", d.overlap.value),
        ("jitter", f"{d.jitter:g}s"), ("max runs", str(d.max_runs or "-")),
        ("start", d.start.isoformat() if d.start else "-"),
        ("end", d.end.isoformat() if d.end else "-"), ("origin", info.origin),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    return table
